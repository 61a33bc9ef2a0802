package approvals

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"sync"
)

// Request records are stored compressed (schema version 2): a record is about 1 KiB
// of JSON that repeats its own field names and object ids, and deflate halves it.
// The requests bucket is keyed by random request ids, so its pages split at random
// and stay about 60% full; halving the records is what takes a request's life in the
// file from ~5,000 to ~4,200 bytes (BenchmarkStoreSize). The audit log is not
// compressed: its stored bytes are what its hashes cover, for any outside tool to
// check.
//
// A packed record is packedDeflate followed by the raw DEFLATE stream of the JSON. A
// record that starts with '{' is a version 1 record (plain JSON), still read as such
// and packed when it is next written: no migration rewrites them.
const packedDeflate = 0x01

// maxRecord bounds an unpacked record, far above any real one (its free text is
// capped at maxText), so a corrupt or forged record cannot make a read allocate
// without bound.
const maxRecord = 1 << 20

// flateReaders holds decompressors for reuse (flate.NewReader's result, reset per
// record).
var flateReaders sync.Pool

var flateWriters = sync.Pool{New: func() any {
	w, _ := flate.NewWriter(io.Discard, flate.BestSpeed) // the level is valid: no error
	return w
}}

// packRecord compresses a record's JSON for storage.
func packRecord(plain []byte) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(len(plain)/2 + 16)
	buf.WriteByte(packedDeflate)
	// A flate writer costs hundreds of KiB to set up: reuse them.
	w := flateWriters.Get().(*flate.Writer)
	defer flateWriters.Put(w)
	w.Reset(&buf)
	if _, err := w.Write(plain); err != nil {
		return nil, fmt.Errorf("compress record: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("compress record: %w", err)
	}
	return buf.Bytes(), nil
}

// unpackRecord returns a stored record's JSON: a packed record decompressed, a
// version 1 record as it is. It copies nothing it need not: the result may alias
// stored (bbolt) memory only for version 1 records, which the caller decodes at once.
func unpackRecord(stored []byte) ([]byte, error) {
	if len(stored) == 0 || stored[0] != packedDeflate {
		return stored, nil
	}
	src := bytes.NewReader(stored[1:])
	r, _ := flateReaders.Get().(io.ReadCloser)
	if r == nil {
		r = flate.NewReader(src)
	} else if err := r.(flate.Resetter).Reset(src, nil); err != nil {
		return nil, fmt.Errorf("decompress record: %w", err)
	}
	defer flateReaders.Put(r)
	var out bytes.Buffer
	out.Grow(3 * len(stored))
	_, err := out.ReadFrom(io.LimitReader(r, maxRecord+1))
	plain := out.Bytes()
	if err != nil {
		return nil, fmt.Errorf("decompress record: %w", err)
	}
	if len(plain) > maxRecord {
		return nil, errors.New("decompress record: larger than any request record")
	}
	return plain, nil
}

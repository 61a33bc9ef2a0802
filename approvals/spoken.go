package approvals

import "strings"

// spokenGroup is how many characters SpokenID puts in a group: four is what people
// hold in mind while reading a code aloud or typing it from a call.
const spokenGroup = 4

// SpokenID shows a canonical request id in groups a person can read aloud over the
// phone ("R-DS7O XVBT 5TAX …"). ParseID reads it back, with or without the spaces,
// so the grouped form is as good as the canonical one in any command. An id that is
// not canonical is returned as it is: showing it must never invent another.
func SpokenID(id string) string {
	body, ok := strings.CutPrefix(id, idPrefix)
	if !ok || len(body) != idChars {
		return id
	}
	var b strings.Builder
	b.WriteString(idPrefix)
	for i := 0; i < len(body); i += spokenGroup {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(body[i:min(i+spokenGroup, len(body))])
	}
	return b.String()
}

package manifest

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"strconv"
)

// Teams icon sizes.
const (
	TeamsColorIconSize   = 192
	TeamsOutlineIconSize = 32
)

// TeamsIcons draws the two icons of the Teams app package: color.png, a white shield
// with a tick on the accent colour (192×192, the symbol inside Teams' 120 px safe
// area), and outline.png, the same shield as a white outline on a transparent
// background (32×32), as Teams requires. They are drawn here rather than shipped as
// files so that the accent colour follows the options and no binary sits in the repo.
func TeamsIcons(accent string) (colorPNG, outlinePNG []byte, err error) {
	bg, err := parseHexColor(accent)
	if err != nil {
		return nil, nil, err
	}
	white := color.NRGBA{255, 255, 255, 255}

	ci := image.NewNRGBA(image.Rect(0, 0, TeamsColorIconSize, TeamsColorIconSize))
	for y := range TeamsColorIconSize {
		for x := range TeamsColorIconSize {
			// Sample at the pixel centre, in a 0..1 square scaled to the 120 px safe area.
			u, v := (float64(x)+0.5-36)/120, (float64(y)+0.5-36)/120
			c := bg
			if inShield(u, v) {
				c = white
				if onTick(u, v, 0.055) {
					c = bg
				}
			}
			ci.SetNRGBA(x, y, c)
		}
	}

	oi := image.NewNRGBA(image.Rect(0, 0, TeamsOutlineIconSize, TeamsOutlineIconSize))
	const px = 1.0 / 28 // one pixel in shield units; the shield spans 28 of the 32 px
	for y := range TeamsOutlineIconSize {
		for x := range TeamsOutlineIconSize {
			u, v := (float64(x)+0.5-2)/28, (float64(y)+0.5-2)/28
			// Outline: inside the shield but not inside the shield shrunk by ~2 px.
			edge := inShield(u, v) && !inShieldInset(u, v, 2*px)
			if edge || onTick(u, v, 1.2*px) {
				oi.SetNRGBA(x, y, white)
			} // else fully transparent (the zero value)
		}
	}

	colorPNG, err = encodePNG(ci)
	if err != nil {
		return nil, nil, fmt.Errorf("encode color icon: %w", err)
	}
	outlinePNG, err = encodePNG(oi)
	if err != nil {
		return nil, nil, fmt.Errorf("encode outline icon: %w", err)
	}
	return colorPNG, outlinePNG, nil
}

func encodePNG(img image.Image) ([]byte, error) {
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// inShield reports whether (u, v), in a unit square, is inside the shield: straight
// sides from the top down to 55 %, then tapering to a point at the bottom.
func inShield(u, v float64) bool { return inShieldInset(u, v, 0) }

func inShieldInset(u, v, inset float64) bool {
	const top, waist, bottom, half = 0.06, 0.55, 0.97, 0.40
	if v < top+inset || v > bottom-inset*1.6 {
		return false
	}
	w := half
	if v > waist {
		w = half * (bottom - v) / (bottom - waist)
	}
	return math.Abs(u-0.5) <= w-inset
}

// onTick reports whether (u, v) is within width of the tick's two strokes.
func onTick(u, v, width float64) bool {
	return segDist(u, v, 0.30, 0.50, 0.45, 0.66) <= width || segDist(u, v, 0.45, 0.66, 0.72, 0.34) <= width
}

func segDist(px, py, ax, ay, bx, by float64) float64 {
	dx, dy := bx-ax, by-ay
	t := ((px-ax)*dx + (py-ay)*dy) / (dx*dx + dy*dy)
	t = math.Max(0, math.Min(1, t))
	return math.Hypot(px-(ax+t*dx), py-(ay+t*dy))
}

func parseHexColor(s string) (color.NRGBA, error) {
	if !teamsColorRe.MatchString(s) {
		return color.NRGBA{}, fmt.Errorf("teams icon: accent colour %q is not #rrggbb", s)
	}
	n, _ := strconv.ParseUint(s[1:], 16, 32)
	return color.NRGBA{uint8(n >> 16), uint8(n >> 8), uint8(n), 255}, nil
}

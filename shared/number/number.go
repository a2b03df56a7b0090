// Package number writes numbers the way people read them: in plain
// decimal, never in scientific notation. A repository size of 29236454
// bytes reads 29236454, not 2.9236454e+07, in every document the products
// render (entity YAML, lists as JSON or YAML).
package number

import (
	"math"
	"strconv"
)

// Format returns f as the shortest plain decimal that reads back as f:
// integral values without a decimal point (42, 29236454), others with as
// many fraction digits as needed (0.5, 0.000001). NaN and the infinities,
// which have no decimal form, come back as YAML writes them (.nan, .inf,
// -.inf).
func Format(f float64) string {
	switch {
	case math.IsNaN(f):
		return ".nan"
	case math.IsInf(f, 1):
		return ".inf"
	case math.IsInf(f, -1):
		return "-.inf"
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// Integral reports whether f has no fractional part (and is finite), so
// that it can be written as an integer.
func Integral(f float64) bool {
	return !math.IsNaN(f) && !math.IsInf(f, 0) && f == math.Trunc(f)
}

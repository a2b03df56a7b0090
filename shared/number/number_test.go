package number

import (
	"math"
	"strconv"
	"strings"
	"testing"
)

func TestFormatIsPlainAndExact(t *testing.T) {
	for _, c := range []struct {
		in   float64
		want string
	}{
		{0, "0"},
		{42, "42"},
		{-7, "-7"},
		{29236454, "29236454"},
		{2.9236454e+07, "29236454"},
		{1e21, "1000000000000000000000"},
		{0.5, "0.5"},
		{1e-7, "0.0000001"},
		{-12.25, "-12.25"},
		{123456789.125, "123456789.125"},
		{math.NaN(), ".nan"},
		{math.Inf(1), ".inf"},
		{math.Inf(-1), "-.inf"},
	} {
		got := Format(c.in)
		if got != c.want {
			t.Errorf("Format(%g) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestFormatReadsBackAsTheSameNumber(t *testing.T) {
	for _, f := range []float64{1, 3.14159, 1e300, 5e-324, 9007199254740993, 0.1 + 0.2, -1e-10} {
		s := Format(f)
		if strings.ContainsAny(s, "eE") {
			t.Errorf("Format(%g) = %q: scientific notation", f, s)
		}
		back, err := strconv.ParseFloat(s, 64)
		if err != nil || back != f {
			t.Errorf("Format(%g) = %q reads back as %g (%v)", f, s, back, err)
		}
	}
}

func TestIntegral(t *testing.T) {
	for f, want := range map[float64]bool{42: true, 1e21: true, 0.5: false, math.Inf(1): false, math.NaN(): false} {
		if Integral(f) != want {
			t.Errorf("Integral(%g) = %v, want %v", f, !want, want)
		}
	}
}

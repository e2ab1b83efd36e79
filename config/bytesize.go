package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ByteSize is a flag of bytes written with a unit: 2G, 512M, 1.5GiB, 0.
// Units are binary (K = 1024), with or without "i" and "B", as `df -h`
// and the workshops' wod.yml write them.
type ByteSize int64

var byteUnits = map[string]float64{"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}

// ParseByteSize reads a size such as 2G.
func ParseByteSize(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	t = strings.TrimSuffix(t, "B")
	t = strings.TrimSuffix(t, "I")
	unit := ""
	if t != "" && strings.ContainsRune("KMGT", rune(t[len(t)-1])) {
		unit, t = t[len(t)-1:], strings.TrimSpace(t[:len(t)-1])
	}
	n, err := strconv.ParseFloat(t, 64)
	if err != nil || n < 0 || math.IsInf(n, 0) || math.IsNaN(n) || strings.ContainsAny(t, "eEx_") {
		return 0, fmt.Errorf("%q is not a size such as 2G, 512M or 0", s)
	}
	b := n * byteUnits[unit]
	if b >= math.MaxInt64 {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return int64(b), nil
}

// Set implements pflag.Value.
func (b *ByteSize) Set(s string) error {
	n, err := ParseByteSize(s)
	if err != nil {
		return err
	}
	*b = ByteSize(n)
	return nil
}

// String writes the size in the largest unit that divides it.
func (b *ByteSize) String() string {
	n := int64(*b)
	for _, u := range []string{"T", "G", "M", "K"} {
		if size := int64(byteUnits[u]); n != 0 && n%size == 0 {
			return strconv.FormatInt(n/size, 10) + u
		}
	}
	return strconv.FormatInt(n, 10)
}

// Type implements pflag.Value.
func (b *ByteSize) Type() string { return "size" }

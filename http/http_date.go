package http

import (
	"net/http"
	"time"
)

// httpDate formats t as an HTTP date (http.TimeFormat, in GMT) for
// Last-Modified, which every document answer carries. It writes the
// fields directly for four-digit years, faster than the layout parser
// (BenchmarkHTTPDate; figures in docs/benchmarks.md), and hands other
// years to time.Format.
func httpDate(t time.Time) string {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 1000 || year > 9999 {
		return t.Format(http.TimeFormat)
	}
	hour, minute, sec := t.Clock()
	const days = "SunMonTueWedThuFriSat"
	const months = "JanFebMarAprMayJunJulAugSepOctNovDec"
	var b [len(http.TimeFormat)]byte // "Mon, 02 Jan 2006 15:04:05 GMT"
	wd := int(t.Weekday()) * 3
	copy(b[0:], days[wd:wd+3])
	b[3], b[4] = ',', ' '
	put2(b[5:], day)
	b[7] = ' '
	m := (int(month) - 1) * 3
	copy(b[8:], months[m:m+3])
	b[11] = ' '
	put2(b[12:], year/100)
	put2(b[14:], year%100)
	b[16] = ' '
	put2(b[17:], hour)
	b[19] = ':'
	put2(b[20:], minute)
	b[22] = ':'
	put2(b[23:], sec)
	copy(b[25:], " GMT")
	return string(b[:])
}

// put2 writes v, 0 <= v < 100, as two digits at the start of b.
func put2(b []byte, v int) {
	b[0], b[1] = byte('0'+v/10), byte('0'+v%10)
}

package spec

import "time"

// HTTP-date (RFC 9110 §5.6.7).
//
//	HTTP-date    = IMF-fixdate / obs-date
//	IMF-fixdate  = day-name "," SP date1 SP time-of-day SP GMT   ; Sun, 06 Nov 1994 08:49:37 GMT
//	rfc850-date  = day-name-l "," SP date2 SP time-of-day SP GMT ; Sunday, 06-Nov-94 08:49:37 GMT
//	asctime-date = day-name SP date3 SP time-of-day SP year      ; Sun Nov  6 08:49:37 1994

// httpDateLayout is IMF-fixdate as a time layout (the same as
// net/http.TimeFormat).
const httpDateLayout = "Mon, 02 Jan 2006 15:04:05 GMT"

// parseHTTPDate parses an HTTP-date (RFC 9110 §5.6.7) and returns it in UTC.
// Surrounding OWS is ignored. It accepts:
//
//   - IMF-fixdate, on a hand-written path that makes no allocation;
//   - the obsolete RFC 850 form, with a two-digit year read by the fixed
//     rule "yy < 70 → 20yy, else 19yy" (a four-digit year is accepted too).
//     §5.6.7 asks to read a year "more than 50 years in the future" as the
//     past century, which depends on the current time; this package has no
//     clock, so the rule is a function of the date alone. It agrees with
//     §5.6.7 for every two-digit year while the current year is 2020–2069,
//     except yy 70–(current year − 1950), which §5.6.7 would read as 20yy
//     and which no live RFC 850 sender produces;
//   - the obsolete asctime form ("Sun Nov  6 08:49:37 1994", day as " 6" or
//     "06").
//
// RFC 9111 §4.2 asks a cache to match dates case-insensitively, so day and
// month names and "GMT" are matched in any case; a day name that does not
// fit the date is not an error. Following §5.6.7's advice to be robust
// with timestamps forwarded from non-HTTP sources, the Internet Message
// Format's date-time (RFC 5322 §3.3) is accepted too (hdParseIMFLenient).
// Fields must be in range (the day must exist in its month, hour ≤ 23,
// minute ≤ 59, second ≤ 60); a leap second (60) rolls over into the next
// minute. Anything else is invalid, which callers treat as §4.2.1 and §5.3
// say (an invalid Expires is a time in the past).
func parseHTTPDate(s string) (time.Time, bool) {
	if len(s) > 0 && (s[0] == ' ' || s[0] == '\t' || s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = lexTrimOWS(s)
	}
	switch {
	case len(s) == 29 && s[3] == ',':
		if t, ok := hdParseIMF(s); ok {
			return t, true
		}
	case len(s) == 24 && s[3] == ' ':
		return hdParseAsctime(s)
	}
	if t, ok := hdParseRFC850(s); ok {
		return t, true
	}
	return hdParseIMFLenient(s)
}

// hdIsGMT reports whether s is "GMT" in any case (RFC 9111 §4.2).
func hdIsGMT(s string) bool {
	return len(s) == 3 && hdFold3(s) == hdPack3("gmt")
}

// hdParseIMFLenient parses the date-time of the Internet Message Format
// (RFC 5322 §3.3), of which IMF-fixdate is the fixed-length form:
//
//	[ day-name "," ] 1*2DIGIT SP month SP 4DIGIT SP hh ":" mm [ ":" ss ] SP zone
//
// with runs of spaces where one is shown, and zone "GMT", "UT" or "UTC" (in
// any case; "UTC" is in neither grammar, but means nothing else) or a
// numeric "+hhmm" / "-hhmm" offset, which is applied. Two-digit years, the
// other obsolete zones (EST, military letters) and comments are refused.
func hdParseIMFLenient(s string) (time.Time, bool) {
	var f [6]string // [day-name,] day month year time zone
	n := 0
	for i := 0; i < len(s); {
		if s[i] == ' ' {
			i++
			continue
		}
		j := i
		for j < len(s) && s[j] != ' ' {
			j++
		}
		if n == len(f) {
			return time.Time{}, false
		}
		f[n] = s[i:j]
		n++
		i = j
	}
	fs := f[:n]
	if n == 6 {
		name := fs[0]
		if len(name) != 4 || name[3] != ',' || hdDay(name[:3]) < 0 {
			return time.Time{}, false
		}
		fs = fs[1:]
	} else if n != 5 {
		return time.Time{}, false
	}
	dd, mon, yyyy, hms, zone := fs[0], fs[1], fs[2], fs[3], fs[4]
	var day int
	var ok bool
	switch len(dd) {
	case 1:
		day, ok = hd2('0', dd[0])
	case 2:
		day, ok = hd2(dd[0], dd[1])
	}
	if !ok || len(mon) != 3 || len(yyyy) != 4 {
		return time.Time{}, false
	}
	m := hdMonth(mon)
	year, ok := hd4(yyyy)
	if m < 1 || !ok {
		return time.Time{}, false
	}
	var clock [8]byte
	switch len(hms) {
	case 5: // hh:mm
		copy(clock[:], hms)
		copy(clock[5:], ":00")
	case 8:
		copy(clock[:], hms)
	default:
		return time.Time{}, false
	}
	offset, ok := hdZone(zone)
	if !ok {
		return time.Time{}, false
	}
	t, ok := hdBuild(year, m, day, string(clock[:]))
	if !ok {
		return time.Time{}, false
	}
	t = t.Add(-offset)
	if y := t.Year(); y < 0 || y > 9999 { // beyond what an HTTP-date can say
		return time.Time{}, false
	}
	return t, true
}

// hdZone reads a zone of RFC 5322 §3.3 that hdParseIMFLenient accepts.
func hdZone(z string) (time.Duration, bool) {
	switch {
	case hdIsGMT(z), len(z) == 2 && z[0]|0x20 == 'u' && z[1]|0x20 == 't',
		len(z) == 3 && hdFold3(z) == hdPack3("utc"):
		return 0, true
	case len(z) == 5 && (z[0] == '+' || z[0] == '-'):
		hh, ok1 := hd2(z[1], z[2])
		mm, ok2 := hd2(z[3], z[4])
		if !ok1 || !ok2 || mm > 59 {
			return 0, false
		}
		d := time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute
		if z[0] == '-' {
			d = -d
		}
		return d, true
	}
	return 0, false
}

// hdParseIMF parses "Sun, 06 Nov 1994 08:49:37 GMT".
func hdParseIMF(s string) (time.Time, bool) {
	if s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' || s[25] != ' ' ||
		!hdIsGMT(s[26:29]) || hdDay(s[:3]) < 0 {
		return time.Time{}, false
	}
	day, ok1 := hd2(s[5], s[6])
	mon := hdMonth(s[8:11])
	year, ok2 := hd4(s[12:16])
	if !ok1 || !ok2 || mon < 1 {
		return time.Time{}, false
	}
	return hdBuild(year, mon, day, s[17:25])
}

// hdParseRFC850 parses "Sunday, 06-Nov-94 08:49:37 GMT" (also with a
// four-digit year).
func hdParseRFC850(s string) (time.Time, bool) {
	comma := -1
	for i := 0; i < len(s) && i < 10; i++ {
		if s[i] == ',' {
			comma = i
			break
		}
	}
	if comma < 0 || hdDayLong(s[:comma]) < 0 {
		return time.Time{}, false
	}
	r := s[comma+1:]
	// " 06-Nov-94 08:49:37 GMT" (23) or " 06-Nov-1994 08:49:37 GMT" (25)
	var year int
	switch len(r) {
	case 23:
		yy, ok := hd2(r[8], r[9])
		if !ok {
			return time.Time{}, false
		}
		if yy < 70 {
			year = 2000 + yy
		} else {
			year = 1900 + yy
		}
	case 25:
		y, ok := hd4(r[8:12])
		if !ok {
			return time.Time{}, false
		}
		year = y
	default:
		return time.Time{}, false
	}
	t := r[len(r)-13:] // " 08:49:37 GMT"
	if r[0] != ' ' || r[3] != '-' || r[7] != '-' || t[0] != ' ' || t[9] != ' ' ||
		!hdIsGMT(t[10:13]) {
		return time.Time{}, false
	}
	day, ok := hd2(r[1], r[2])
	mon := hdMonth(r[4:7])
	if !ok || mon < 1 {
		return time.Time{}, false
	}
	return hdBuild(year, mon, day, t[1:9])
}

// hdParseAsctime parses "Sun Nov  6 08:49:37 1994".
func hdParseAsctime(s string) (time.Time, bool) {
	if s[7] != ' ' || s[10] != ' ' || s[19] != ' ' || hdDay(s[:3]) < 0 {
		return time.Time{}, false
	}
	mon := hdMonth(s[4:7])
	d1 := s[8]
	if d1 == ' ' {
		d1 = '0'
	}
	day, ok1 := hd2(d1, s[9])
	year, ok2 := hd4(s[20:24])
	if mon < 1 || !ok1 || !ok2 {
		return time.Time{}, false
	}
	return hdBuild(year, mon, day, s[11:19])
}

// hdBuild validates the date and a "hh:mm:ss" time-of-day (RFC 9110 §5.6.7)
// and builds the UTC time.
func hdBuild(year, mon, day int, hms string) (time.Time, bool) {
	if hms[2] != ':' || hms[5] != ':' {
		return time.Time{}, false
	}
	hh, ok1 := hd2(hms[0], hms[1])
	mm, ok2 := hd2(hms[3], hms[4])
	ss, ok3 := hd2(hms[6], hms[7])
	if !ok1 || !ok2 || !ok3 || hh > 23 || mm > 59 || ss > 60 ||
		day < 1 || day > hdDaysIn(year, mon) {
		return time.Time{}, false
	}
	return time.Date(year, time.Month(mon), day, hh, mm, ss, 0, time.UTC), true
}

func hdDaysIn(year, mon int) int {
	switch mon {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

func hd2(a, b byte) (int, bool) {
	if a < '0' || a > '9' || b < '0' || b > '9' {
		return 0, false
	}
	return int(a-'0')*10 + int(b-'0'), true
}

func hd4(s string) (int, bool) {
	hi, ok1 := hd2(s[0], s[1])
	lo, ok2 := hd2(s[2], s[3])
	return hi*100 + lo, ok1 && ok2
}

// hdFold3 packs three ASCII letters, lowercased, into one integer.
func hdFold3(s string) uint32 {
	return uint32(s[0]|0x20)<<16 | uint32(s[1]|0x20)<<8 | uint32(s[2]|0x20)
}

func hdPack3(s string) uint32 { return uint32(s[0])<<16 | uint32(s[1])<<8 | uint32(s[2]) }

// hdMonth returns 1–12 for a month (RFC 9110 §5.6.7, matched
// case-insensitively), or 0.
func hdMonth(s string) int {
	switch hdFold3(s) {
	case hdPack3("jan"):
		return 1
	case hdPack3("feb"):
		return 2
	case hdPack3("mar"):
		return 3
	case hdPack3("apr"):
		return 4
	case hdPack3("may"):
		return 5
	case hdPack3("jun"):
		return 6
	case hdPack3("jul"):
		return 7
	case hdPack3("aug"):
		return 8
	case hdPack3("sep"):
		return 9
	case hdPack3("oct"):
		return 10
	case hdPack3("nov"):
		return 11
	case hdPack3("dec"):
		return 12
	}
	return 0
}

// hdDay returns 0–6 for a three-letter day-name, or -1.
func hdDay(s string) int {
	switch hdFold3(s) {
	case hdPack3("sun"):
		return 0
	case hdPack3("mon"):
		return 1
	case hdPack3("tue"):
		return 2
	case hdPack3("wed"):
		return 3
	case hdPack3("thu"):
		return 4
	case hdPack3("fri"):
		return 5
	case hdPack3("sat"):
		return 6
	}
	return -1
}

// hdDayLong returns 0–6 for a day-name-l (RFC 9110 §5.6.7), or -1.
func hdDayLong(s string) int {
	if len(s) < 6 {
		return -1
	}
	d := hdDay(s[:3])
	long := [...]string{"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"}
	if d < 0 || !lexEqualFold(s, long[d]) {
		return -1
	}
	return d
}

// formatHTTPDate formats t as an IMF-fixdate in GMT (RFC 9110 §5.6.7), the
// same as t.UTC().Format(http.TimeFormat).
func formatHTTPDate(t time.Time) string {
	t = t.UTC()
	year, mon, day := t.Date()
	if year < 0 || year > 9999 {
		return t.Format(httpDateLayout)
	}
	hh, mm, ss := t.Clock()
	const days = "SunMonTueWedThuFriSat"
	const months = "JanFebMarAprMayJunJulAugSepOctNovDec"
	var b [29]byte
	wd := int(t.Weekday()) * 3
	m := (int(mon) - 1) * 3
	copy(b[0:3], days[wd:wd+3])
	b[3], b[4] = ',', ' '
	hdPut2(b[5:], day)
	b[7] = ' '
	copy(b[8:11], months[m:m+3])
	b[11] = ' '
	hdPut2(b[12:], year/100)
	hdPut2(b[14:], year%100)
	b[16] = ' '
	hdPut2(b[17:], hh)
	b[19] = ':'
	hdPut2(b[20:], mm)
	b[22] = ':'
	hdPut2(b[23:], ss)
	copy(b[25:], " GMT")
	return string(b[:])
}

func hdPut2(b []byte, v int) {
	b[0] = byte('0' + v/10)
	b[1] = byte('0' + v%10)
}

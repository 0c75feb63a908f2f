package spec

// Reason says why the core decided what it did: a stable code for machines,
// a sentence for people and the RFC section that decided it.
type Reason struct {
	Code    ReasonCode // stable, kebab-case, e.g. "no-store": see the Reason constants
	Text    string     // a human sentence
	Section string     // e.g. "RFC 9111 §3"
}

// String renders r as "text (section)".
func (r Reason) String() string {
	if r.Section == "" {
		return r.Text
	}
	return r.Text + " (" + r.Section + ")"
}

func reason(code ReasonCode, section, text string) Reason {
	return Reason{Code: code, Text: text, Section: section}
}

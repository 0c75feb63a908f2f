package cellar_test

import (
	"os"
	"strings"
	"testing"
)

// readmeExamples are the files whose compiled (and, with an Output
// comment, run) examples hold the README's Go code.
var readmeExamples = []string{"example_test.go", "spec/example_test.go"}

// TestReadmeGoBlocksCompile: every Go block of README.md appears, line for
// line (indentation aside), in a compiled example, so that the README
// cannot show code that does not build (the spec switch once declared r
// and never used it).
func TestReadmeGoBlocksCompile(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	var examples [][]string
	for _, f := range readmeExamples {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		examples = append(examples, normalLines(string(b)))
	}
	blocks := goBlocks(string(readme))
	if len(blocks) == 0 {
		t.Fatal("no Go block found in README.md")
	}
	for _, block := range blocks {
		want := normalLines(block)
		found := false
		for _, ex := range examples {
			if containsRun(ex, want) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("this README Go block is in no example of %v; add it to one so that it compiles:\n%s", readmeExamples, block)
		}
	}
}

// goBlocks returns the bodies of the ```go fenced blocks of markdown.
func goBlocks(markdown string) []string {
	var blocks []string
	var cur []string
	in := false
	for line := range strings.Lines(markdown) {
		trimmed := strings.TrimSpace(line)
		switch {
		case !in && trimmed == "```go":
			in, cur = true, nil
		case in && trimmed == "```":
			in = false
			blocks = append(blocks, strings.Join(cur, ""))
		case in:
			cur = append(cur, line)
		}
	}
	return blocks
}

// normalLines returns the non-blank lines of s with their indentation and
// trailing space removed, and runs of spaces collapsed (gofmt aligns
// comments differently at other indentations).
func normalLines(s string) []string {
	var out []string
	for line := range strings.Lines(s) {
		if l := strings.Join(strings.Fields(line), " "); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// containsRun reports whether want appears in have as consecutive lines.
func containsRun(have, want []string) bool {
	for i := 0; i+len(want) <= len(have); i++ {
		match := true
		for j := range want {
			if have[i+j] != want[j] {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}

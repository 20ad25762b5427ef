package main

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestParsePage(t *testing.T) {
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	tests := []struct {
		name string
		body string
		next string
		ok   bool
	}{
		{"empty page", `{"items":[]}`, "", true},
		{"page with a cursor", "{\"items\":[{\"id\":\"a\",\"n\":-1.5e+3,\"ok\":true,\"x\":null,\"l\":{\"k\":[false]}}],\"next_cursor\":\"MDFNOA\"}\n", "MDFNOA", true},
		{"cursor first, spaces", " \t{ \"next_cursor\" : \"c\" , \"items\" : [ 1 , 2 ] }\r\n", "c", true},
		{"escaped cursor", `{"items":[],"next_cursor":"a\u0062\/c"}`, "ab/c", true},
		{"escapes in items", `{"items":["\"\\\/\b\f\n\r\t\u00e9"]}`, "", true},
		{"other members", `{"items":[],"extra":{"a":[1,{}]}}`, "", true},
		{"bytes as they are", "{\"items\":[\"\xff\xfe é\"]}", "", true},
		{"nesting at the limit", `{"items":` + deep(maxDepth-1) + `}`, "", true},
		{"nesting past the limit", `{"items":` + deep(maxDepth) + `}`, "", false},
		{"no items", `{"next_cursor":"c"}`, "", false},
		{"items null", `{"items":null}`, "", false},
		{"items an object", `{"items":{}}`, "", false},
		{"items twice", `{"items":[],"items":[]}`, "", false},
		{"cursor not a string", `{"items":[],"next_cursor":1}`, "", false},
		{"an array", `[]`, "", false},
		{"empty", ``, "", false},
		{"truncated", `{"items":[{"id":"a"}`, "", false},
		{"truncated string", `{"items":["ab`, "", false},
		{"trailing comma", `{"items":[1,]}`, "", false},
		{"trailing data", `{"items":[]}x`, "", false},
		{"two values", `{"items":[]} {}`, "", false},
		{"control character", "{\"items\":[\"a\x01\"]}", "", false},
		{"bad escape", `{"items":["\x"]}`, "", false},
		{"short unicode escape", `{"items":["\u12"]}`, "", false},
		{"leading zero", `{"items":[01]}`, "", false},
		{"bare minus", `{"items":[-]}`, "", false},
		{"empty fraction", `{"items":[1.]}`, "", false},
		{"empty exponent", `{"items":[1e]}`, "", false},
		{"bad literal", `{"items":[nul]}`, "", false},
		{"single quotes", `{'items':[]}`, "", false},
		{"missing colon", `{"items" []}`, "", false},
		{"missing comma", `{"items":[1 2]}`, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next, err := parsePage([]byte(tt.body))
			if (err == nil) != tt.ok || next != tt.next {
				t.Errorf("parsePage = %q, %v; want %q, ok %t", next, err, tt.next, tt.ok)
			}
			checkAgainstJSON(t, []byte(tt.body))
		})
	}
}

// checkAgainstJSON holds parsePage to encoding/json's answers: a page it accepts
// is valid JSON that decodes to an items array and the same cursor, and what it
// calls invalid JSON is invalid for encoding/json too. Member names are matched
// exactly, as the API writes them: the reference reads the object as a map,
// because decoding into a struct would also match "Items" or "neXt_cursor".
func checkAgainstJSON(t *testing.T, b []byte) {
	t.Helper()
	next, err := parsePage(b)
	var obj map[string]json.RawMessage
	var items []json.RawMessage
	var cursor string
	refErr := json.Unmarshal(b, &obj)
	if raw, ok := obj["items"]; ok && refErr == nil {
		refErr = json.Unmarshal(raw, &items)
	}
	if raw, ok := obj["next_cursor"]; ok && refErr == nil {
		refErr = json.Unmarshal(raw, &cursor)
	}
	if err == nil && (refErr != nil || items == nil || cursor != next) {
		t.Fatalf("parsePage(%q) = %q; encoding/json: %v, items %v, cursor %q", b, next, refErr, items, cursor)
	}
	if errors.Is(err, errSyntax) && json.Valid(b) {
		t.Fatalf("parsePage(%q): %v; encoding/json finds it valid", b, err)
	}
	if !json.Valid(b) && err == nil {
		t.Fatalf("parsePage(%q) accepted invalid JSON", b)
	}
}

func FuzzParsePage(f *testing.F) {
	for _, s := range []string{
		`{"items":[]}`, `{"items":[{"a":1}],"next_cursor":"x"}`, `{"items":["\u00e9\n"],"k":[true,false,null,-0.5E-2]}`,
		`{"items":[1,]}`, `{"next_cursor":"a\/b","items":[]}`, `[{"items":[]}]`, `{"items":[01]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkAgainstJSON(t, b) })
}

func BenchmarkParsePage(b *testing.B) {
	item := `{"id":"01M8DST83BAPFSMZF9EA66J5YN","graph_id":"graph1","parent_id":"01M8DS7Y5B1KCBVWCQB9JZ9ED5","kind":"incremental","status":"completed","started_at":"2026-11-27T06:06:52.011772Z","finished_at":"2026-11-27T06:06:53.211772Z","nodes":580,"edges":1740,"records":2320,"bytes_raw":918273,"bytes_stored":306091,"bytes_new":10213,"root_hash":"9f0c4be1a1f2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c","manifest_key":"manifests/graph1/01M8DST83BAPFSMZF9EA66J5YN.json","journal_pos":5512,"chain_len":7,"encrypted":false,"labels":{"trigger":"schedule"},"created_at":"2026-11-27T06:06:52.011772Z","updated_at":"2026-11-27T06:06:53.211772Z"}`
	body := []byte(`{"items":[` + strings.Repeat(item+",", 99) + item + `],"next_cursor":"MDFNOERTN1k4M0JBUEZTTVpGOUVBNjZKNVlO"}` + "\n")
	b.Run("parsePage", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if _, err := parsePage(body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json.Unmarshal", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			var p struct {
				Items      []json.RawMessage `json:"items"`
				NextCursor string            `json:"next_cursor"`
			}
			if err := json.Unmarshal(body, &p); err != nil {
				b.Fatal(err)
			}
		}
	})
}

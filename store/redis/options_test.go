package redis

import (
	"reflect"
	"testing"
	"time"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		url  string
		want Options
		tls  bool
	}{
		{"redis://localhost", Options{Addrs: []string{"localhost:6379"}}, false},
		{"redis://h:7000/3", Options{Addrs: []string{"h:7000"}, DB: 3}, false},
		{"valkey://user:p%40ss@h:1/", Options{Addrs: []string{"h:1"}, Username: "user", Password: "p@ss"}, false},
		{"redis://:secret@h", Options{Addrs: []string{"h:6379"}, Password: "secret"}, false},
		{"rediss://h:6380", Options{Addrs: []string{"h:6380"}}, true},
		{"redis://[::1]:7000", Options{Addrs: []string{"[::1]:7000"}}, false},
		{"redis+cluster://a:7000,b:7001,c", Options{Addrs: []string{"a:7000", "b:7001", "c:6379"}}, false},
		{"redis://a:1?addr=b:2&addr=c:3", Options{Addrs: []string{"a:1", "b:2", "c:3"}}, false},
		{
			"redis://h/0?prefix=x:&max_bytes=64MiB&chunk_size=128KiB&default_ttl=1h&pending_ttl=5m&grace=10s&dial_timeout=100ms&command_timeout=250ms",
			Options{
				Addrs: []string{"h:6379"}, Prefix: "x:", MaxBytes: 64 << 20, ChunkSize: 128 << 10,
				DefaultTTL: time.Hour, PendingTTL: 5 * time.Minute, Grace: 10 * time.Second,
				DialTimeout: 100 * time.Millisecond, CommandTimeout: 250 * time.Millisecond,
			},
			false,
		},
	}
	for _, tt := range tests {
		got, err := ParseURL(tt.url)
		if err != nil {
			t.Errorf("ParseURL(%q): %v", tt.url, err)
			continue
		}
		if (got.TLS != nil) != tt.tls {
			t.Errorf("ParseURL(%q): TLS = %v, want %v", tt.url, got.TLS != nil, tt.tls)
		}
		got.TLS = nil
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseURL(%q) = %+v, want %+v", tt.url, got, tt.want)
		}
	}
	for _, bad := range []string{
		"localhost:6379",
		"http://h",
		"redis://a,b",
		"redis+cluster://a,b/2",
		"redis://h/x",
		"redis://h:99999",
		"redis://h?max_bytes=lots",
		"redis://h?default_ttl=forever",
		"redis://h?bogus=1",
		"redis://",
	} {
		if _, err := ParseURL(bad); err == nil {
			t.Errorf("ParseURL(%q) succeeded", bad)
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Error("New without an address succeeded")
	}
	if _, err := New(Options{Addrs: []string{"127.0.0.1:1"}, Prefix: "a{b}:"}); err == nil {
		t.Error("New with a brace in Prefix succeeded")
	}
	o, err := Options{Addrs: []string{"x:1"}, Grace: -1}.withDefaults()
	if err != nil || o.Grace != 0 || o.Prefix != DefaultPrefix || o.ChunkSize != DefaultChunkSize {
		t.Errorf("withDefaults = %+v, %v", o, err)
	}
}

package upload

import (
	"strings"
	"testing"
)

func TestNewPushAddress(t *testing.T) {
	tests := []struct {
		address, wantEndpoint, wantErr string
	}{
		{"http://localhost:4040", "http://localhost:4040/push.v1.PusherService/Push", ""},
		{"https://profiles.example.com/pyroscope/", "https://profiles.example.com/pyroscope/push.v1.PusherService/Push", ""},
		{"localhost:4040", "", "not an http:// or https:// URL"},
		{"ftp://x", "", "not an http:// or https:// URL"},
		{"https://user:hunter2@example.com%", "", "…@example.com"},
	}
	for _, tt := range tests {
		p, err := NewPush(tt.address, nil, nil)
		switch {
		case tt.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "hunter2") {
				t.Errorf("NewPush(%q) error %v, want one saying %q", tt.address, err, tt.wantErr)
			}
		case err != nil:
			t.Errorf("NewPush(%q): %v", tt.address, err)
		case p.endpoint != tt.wantEndpoint:
			t.Errorf("NewPush(%q) posts to %q, want %q", tt.address, p.endpoint, tt.wantEndpoint)
		}
	}
}

func TestNewParcaAddress(t *testing.T) {
	tests := []struct {
		address, wantEndpoint, wantErr string
	}{
		{"grpc.polarsignals.com:443", "https://grpc.polarsignals.com:443/" + writeRawProcedure, ""},
		{"grpc.polarsignals.com", "https://grpc.polarsignals.com:443/" + writeRawProcedure, ""},
		{"[::1]:7070", "https://[::1]:7070/" + writeRawProcedure, ""},
		{"https://parca.example.com/api/", "https://parca.example.com/api/" + writeRawProcedure, ""},
		{"http://localhost:7070", "http://localhost:7070/" + writeRawProcedure, ""},
		{"dns:///parca:7070", "", "want https://host:port"},
		{"grpc://parca:7070", "", "want https://host:port"},
		{"", "", "want host:port"},
	}
	for _, tt := range tests {
		p, err := NewParca(tt.address, nil, nil)
		switch {
		case tt.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("NewParca(%q) error %v, want one saying %q", tt.address, err, tt.wantErr)
			}
		case err != nil:
			t.Errorf("NewParca(%q): %v", tt.address, err)
		case p.endpoint != tt.wantEndpoint:
			t.Errorf("NewParca(%q) calls %q, want %q", tt.address, p.endpoint, tt.wantEndpoint)
		}
	}
}

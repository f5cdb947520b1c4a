package pyroscope

import (
	"reflect"
	"testing"

	"github.com/pyroscope-sdk/pyroscope-go/internal/config"
)

// Every Config field reaches the resolver the CLI shares: a field added to
// Config but not to config.Config (and Config.resolve) would be ignored
// without a word.
func TestEveryConfigFieldIsResolved(t *testing.T) {
	inner := reflect.TypeOf(config.Config{})
	outer := reflect.TypeOf(Config{})
	for i := range outer.NumField() {
		name := outer.Field(i).Name
		if name == "DisableCumulativeMerge" {
			continue // deprecated, does nothing
		}
		if _, ok := inner.FieldByName(name); !ok {
			t.Errorf("Config.%s has no counterpart in config.Config", name)
		}
	}
}

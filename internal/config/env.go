package config

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Env is s as the PYROSCOPE_* variables Resolve reads, so that a child
// process linking the SDK sends to the same application, tags, server and
// credentials: it reveals the secrets, for a child's environment only. An
// empty value means "unset".
func (s *Settings) Env() map[string]string {
	var tags []string
	for _, k := range slices.Sorted(maps.Keys(s.Tags)) {
		tags = append(tags, k+"="+s.Tags[k])
	}
	protocol := s.Protocol
	if protocol == ProtocolDir {
		protocol = ""
	}
	return map[string]string{
		"PYROSCOPE_APPLICATION_NAME":         s.App,
		"PYROSCOPE_TAGS":                     strings.Join(tags, ","),
		"PYROSCOPE_SERVER_ADDRESS":           s.Address,
		"PYROSCOPE_ADHOC_SERVER_ADDRESS":     "",
		"PYROSCOPE_PROTOCOL":                 protocol,
		"PYROSCOPE_UPLOAD_RATE":              s.UploadRate.String(),
		"PYROSCOPE_STOP_TIMEOUT":             s.StopTimeout.String(),
		"PYROSCOPE_TENANT_ID":                s.TenantID,
		"PYROSCOPE_AUTH_TOKEN":               s.Token.Reveal(),
		"PYROSCOPE_AUTH_TOKEN_FILE":          s.TokenFile,
		"PYROSCOPE_BASIC_AUTH_USER":          s.BasicUser,
		"PYROSCOPE_BASIC_AUTH_PASSWORD":      s.BasicPassword.Reveal(),
		"PYROSCOPE_TLS_CA_FILE":              s.TLSCAFile,
		"PYROSCOPE_TLS_CERT_FILE":            s.TLSCertFile,
		"PYROSCOPE_TLS_KEY_FILE":             s.TLSKeyFile,
		"PYROSCOPE_TLS_INSECURE_SKIP_VERIFY": fmt.Sprint(s.TLSInsecureSkipVerify),
	}
}

// WithTags is s's tags with extra added (extra wins), their keys as TagKey
// stores them; s's own map is not changed.
func (s *Settings) WithTags(extra map[string]string) map[string]string {
	if len(extra) == 0 {
		return s.Tags
	}
	tags := maps.Clone(s.Tags)
	if tags == nil {
		tags = map[string]string{}
	}
	for k, v := range extra {
		tags[TagKey(k)] = v
	}
	return tags
}

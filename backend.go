package pyroscope

import (
	"fmt"
	"net/url"

	"github.com/pyroscope-sdk/pyroscope-go/internal/upload"
)

// newBackend builds the backend the settings ask for, with its transport
// and credentials.
func newBackend(s *settings, logf func(level, format string, args ...any)) (upload.Backend, *upload.Credentials, error) {
	if s.protocol == protocolDir {
		d, err := upload.NewDir(s.address)
		if err != nil {
			return nil, nil, fmt.Errorf("pyroscope: ServerAddress: %w", err)
		}
		return d, nil, nil
	}
	creds := &upload.Credentials{
		Token:         upload.NewSecret(s.token),
		TokenFile:     s.tokenFile,
		TokenSource:   s.tokenSource,
		BasicUser:     s.BasicAuthUser,
		BasicPassword: upload.NewSecret(s.BasicAuthPassword),
		TenantID:      s.TenantID,
		Headers:       s.HTTPHeaders,
		UserAgent:     "pyroscope-sdk-go/" + Version,
	}
	var base upload.Doer
	if s.HTTPClient != nil {
		base = s.HTTPClient
	}
	client, tlsConfig, err := upload.NewHTTPClient(upload.TransportOptions{
		CAFile:             s.TLSCAFile,
		CertFile:           s.TLSCertFile,
		KeyFile:            s.TLSKeyFile,
		InsecureSkipVerify: s.TLSInsecureSkipVerify,
		Timeout:            s.UploadTimeout,
		Logf:               logf,
	}, base)
	if err != nil {
		return nil, nil, fmt.Errorf("pyroscope: transport: %w", err)
	}
	var b upload.Backend
	switch s.protocol {
	case protocolPush:
		b, err = upload.NewPush(s.address, creds, client)
	case protocolParca:
		b, err = upload.NewParca(s.address, creds, tlsConfig)
	default:
		b, err = upload.NewIngest(s.address, creds, client)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("pyroscope: ServerAddress: %w", err)
	}
	return b, creds, nil
}

// redactURL drops anything but scheme, host and path from an address before
// it is logged.
func redactURL(a string) string {
	u, err := url.Parse(a)
	if err != nil || u.Host == "" {
		return a
	}
	return u.Scheme + "://" + u.Host + u.Path
}

package redis

import (
	"crypto/tls"
	"net"
)

// tlsConfig verifies the cluster's certificate against the first seed's host.
func tlsConfig(addr string) *tls.Config {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	return &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
}

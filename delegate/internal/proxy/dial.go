package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/catalog-discovery/bitbucket/shared/clock"
	"github.com/catalog-discovery/bitbucket/shared/logging"
)

// DialContext connects to addr (host:port) for the gRPC client: directly,
// or through an HTTP CONNECT tunnel when ForControlPlane names a proxy.
// The host name is sent to the proxy unresolved, because corporate networks
// often cannot resolve external names themselves.
//
// A proxy that refuses the credentials (407) fails the dial with an
// *AuthError, and is not asked again for AuthRetryAfter: until then every
// dial fails at once with the same error, without contacting the proxy,
// however often gRPC reconnects.
func (c *Config) DialContext(ctx context.Context, addr string) (net.Conn, error) {
	p, err := c.ForControlPlane(addr)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	if p == nil {
		return d.DialContext(ctx, "tcp", addr)
	}
	clk := c.Clock
	if clk == nil {
		clk = clock.Real{}
	}
	if held := c.gate.check(clk.Now()); held != nil {
		return nil, held
	}
	conn, err := dialConnect(ctx, &d, p, addr)
	var refused *AuthError
	switch {
	case errors.As(err, &refused):
		c.gate.refused(refused, clk)
	case err == nil:
		c.gate.accepted()
	}
	return conn, err
}

func dialConnect(ctx context.Context, d *net.Dialer, p *url.URL, addr string) (_ net.Conn, err error) {
	proxyAddr := p.Host
	if p.Port() == "" {
		port := "80"
		if p.Scheme == "https" {
			port = "443"
		}
		proxyAddr = net.JoinHostPort(p.Hostname(), port)
	}
	conn, err := d.DialContext(ctx, "tcp", proxyAddr)
	if err != nil {
		return nil, fmt.Errorf("proxy %s: %w", logging.URL(p), err)
	}
	defer func() {
		if err != nil {
			conn.Close()
		}
	}()
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	} else {
		_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	}
	if p.Scheme == "https" {
		tc := tls.Client(conn, &tls.Config{ServerName: p.Hostname(), MinVersion: tls.VersionTLS12})
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, fmt.Errorf("TLS to proxy %s: %w", logging.URL(p), err)
		}
		conn = tc
	}
	req := &http.Request{
		Method: http.MethodConnect,
		URL:    &url.URL{Opaque: addr},
		Host:   addr,
		Header: http.Header{"User-Agent": {"idp-delegate"}},
	}
	if u := p.User; u != nil {
		pass, _ := u.Password()
		cred := base64.StdEncoding.EncodeToString([]byte(u.Username() + ":" + pass))
		req.Header.Set("Proxy-Authorization", "Basic "+cred)
	}
	if err := req.Write(conn); err != nil {
		return nil, fmt.Errorf("CONNECT %s via proxy %s: %w", addr, logging.URL(p), err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		return nil, fmt.Errorf("CONNECT %s via proxy %s: reading reply: %w", addr, logging.URL(p), err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusProxyAuthRequired {
		return nil, NewAuthError(p, resp.Status, addr)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("CONNECT %s via proxy %s: proxy answered %s", addr, logging.URL(p), resp.Status)
	}
	_ = conn.SetDeadline(time.Time{})
	if br.Buffered() > 0 {
		return &bufferedConn{Conn: conn, r: br}, nil
	}
	return conn, nil
}

// bufferedConn keeps bytes the proxy sent right after its CONNECT reply
// (the server may speak first), which would otherwise be lost in bufio.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (b *bufferedConn) Read(p []byte) (int, error) { return b.r.Read(p) }

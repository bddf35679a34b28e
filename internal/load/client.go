package load

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// api posts GraphQL requests to a tenantd.
type api struct {
	base string
	http *http.Client
}

func newAPI(base string) *api {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 256
	return &api{base: base, http: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

type gqlError struct {
	Message    string         `json:"message"`
	Extensions map[string]any `json:"extensions"`
}

func (e gqlError) code() string {
	c, _ := e.Extensions["code"].(string)
	return c
}

// do sends a query and decodes its data into out; a GraphQL error comes back
// as *requestError.
func (a *api) do(ctx context.Context, token, query string, vars map[string]any, out any) error {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.base+"/graphql", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var r struct {
		Data   json.RawMessage `json:"data"`
		Errors []gqlError      `json:"errors"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, b)
	}
	if len(r.Errors) > 0 {
		return &requestError{Code: r.Errors[0].code(), Message: r.Errors[0].Message}
	}
	if out != nil {
		return json.Unmarshal(r.Data, out)
	}
	return nil
}

// requestError is a GraphQL error answer.
type requestError struct{ Code, Message string }

func (e *requestError) Error() string { return e.Code + ": " + e.Message }

// metric reads one unlabeled value from /metrics.
func (a *api) metric(ctx context.Context, name string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if bytes.HasPrefix(line, []byte(name+" ")) {
			var v float64
			_, err := fmt.Sscanf(string(line[len(name)+1:]), "%g", &v)
			return v, err
		}
	}
	return 0, fmt.Errorf("metric %s not found", name)
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

package load

import (
	"context"
	"time"
)

// ReadinessReport is the answer of runReadinessChecks.
type ReadinessReport struct {
	Status string `json:"status"`
	RanAt  string `json:"ranAt"`
	Checks []struct {
		Name       string         `json:"name"`
		Title      string         `json:"title"`
		Status     string         `json:"status"`
		Summary    string         `json:"summary"`
		DurationMs int            `json:"durationMs"`
		Evidence   map[string]any `json:"evidence"`
	} `json:"checks"`
}

// RunReadinessChecks asks a running tenantd to run its readiness checks.
func RunReadinessChecks(ctx context.Context, url, token string) (*ReadinessReport, error) {
	a := newAPI(url)
	a.http.Timeout = 2 * time.Minute // the signup check may take up to a minute
	var out struct {
		RunReadinessChecks ReadinessReport `json:"runReadinessChecks"`
	}
	err := a.do(ctx, token, `mutation { runReadinessChecks { status ranAt checks { name title status summary durationMs evidence } } }`, nil, &out)
	if err != nil {
		return nil, err
	}
	return &out.RunReadinessChecks, nil
}

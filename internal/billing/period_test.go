package billing

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestAddMonths(t *testing.T) {
	d := func(y int, m time.Month, day int) time.Time { return time.Date(y, m, day, 9, 30, 0, 0, time.UTC) }
	cases := []struct {
		from time.Time
		n    int
		want time.Time
	}{
		{d(2026, 11, 1), 1, d(2026, 12, 1)},
		{d(2026, 11, 1), 2, d(2027, 1, 1)},
		{d(2027, 1, 31), 1, d(2027, 2, 28)},
		{d(2028, 1, 31), 1, d(2028, 2, 29)},
		{d(2027, 1, 31), 2, d(2027, 3, 31)}, // from the anchor, not from February
		{d(2026, 12, 15), 13, d(2028, 1, 15)},
		{d(2026, 3, 31), -1, d(2026, 2, 28)},
		{d(2026, 5, 10), 0, d(2026, 5, 10)},
	}
	for _, c := range cases {
		require.Equal(t, c.want, addMonths(c.from, c.n), "%v + %d", c.from, c.n)
	}
}

func TestPeriod(t *testing.T) {
	anchor := time.Date(2027, 1, 31, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		now        time.Time
		start, end time.Time
	}{
		{anchor, anchor, time.Date(2027, 2, 28, 12, 0, 0, 0, time.UTC)},
		{anchor.Add(-time.Hour), anchor, time.Date(2027, 2, 28, 12, 0, 0, 0, time.UTC)},
		{time.Date(2027, 2, 28, 11, 59, 0, 0, time.UTC), anchor, time.Date(2027, 2, 28, 12, 0, 0, 0, time.UTC)},
		{time.Date(2027, 2, 28, 12, 0, 0, 0, time.UTC), time.Date(2027, 2, 28, 12, 0, 0, 0, time.UTC), time.Date(2027, 3, 31, 12, 0, 0, 0, time.UTC)},
		{time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 2, 28, 12, 0, 0, 0, time.UTC), time.Date(2027, 3, 31, 12, 0, 0, 0, time.UTC)},
		{time.Date(2029, 7, 31, 12, 0, 0, 0, time.UTC), time.Date(2029, 7, 31, 12, 0, 0, 0, time.UTC), time.Date(2029, 8, 31, 12, 0, 0, 0, time.UTC)},
	}
	for _, c := range cases {
		start, end := period(anchor, c.now)
		require.Equal(t, c.start, start, "start at %v", c.now)
		require.Equal(t, c.end, end, "end at %v", c.now)
	}
}

func TestProrate(t *testing.T) {
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	end := start.AddDate(0, 1, 0)
	require.Equal(t, 7000, prorate(7000, start, end, start))
	require.Equal(t, 3500, prorate(7000, start, end, start.Add(15*24*time.Hour)))
	require.Equal(t, -1450, prorate(-2900, start, end, start.Add(15*24*time.Hour)))
	require.Equal(t, 0, prorate(7000, start, end, end))
	require.Equal(t, 7000, prorate(7000, start, end, start.Add(-time.Hour)), "never more than the period")
	require.Equal(t, 1, prorate(1, start, end, start.Add(time.Hour)), "rounded to the cent")
}

func TestStripePlanKey(t *testing.T) {
	p, err := NewStripeProvider(StripeConfig{SecretKey: "sk_test_123", Prices: map[string]string{"pro": "price_1ProMonthly", "starter": "price_starter_v2"}}, nil)
	require.NoError(t, err)
	require.Equal(t, "pro", p.planKey("price_1ProMonthly"))
	require.Equal(t, "starter", p.planKey("price_starter_v2"))
	require.Equal(t, "enterprise", p.planKey("price_enterprise"), "the default price id of an unmapped plan")
	require.Equal(t, "", p.planKey("price_pro"), "pro has another price")
	require.Equal(t, "", p.planKey("price_1PgafmB7WZ01zgkW6dKueIc5"))
	require.Equal(t, "", p.planKey(""))
}

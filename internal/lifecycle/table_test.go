package lifecycle_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/internal/lifecycle"
)

// designTable is DESIGN.md's state machine, copied as it is written there
// (the design lives outside this repository): an independent transcription
// that the code's table must match, row by row.
const designTable = `
| signup | — | PENDING | user |
| provision | PENDING, PROVISIONING_FAILED | PROVISIONING | system, admin |
| activate | PROVISIONING | ACTIVE | system |
| fail | PROVISIONING | PROVISIONING_FAILED | system |
| suspend | ACTIVE | SUSPENDED | admin, system (payment failure) |
| resume | SUSPENDED | ACTIVE | admin, system (payment recovered) |
| cancel | ACTIVE, SUSPENDED | CANCELED | user, admin, system (billing) |
| reactivate | CANCELED | ACTIVE | user, admin |
| request_deletion | ACTIVE, SUSPENDED, CANCELED, PROVISIONING_FAILED | PENDING_DELETION | user, admin |
| restore | PENDING_DELETION | the state before deletion | user, admin |
| purge | PENDING_DELETION | PURGED (terminal tombstone) | system (sweep), admin |
| change_plan | ACTIVE | ACTIVE (self-transition, plan recorded) | user, admin, system |
`

type row struct {
	event string
	from  []string
	to    string
	by    []string
}

// parseTable reads the rows of a markdown table of the state machine:
// event | from | to | who, with parenthesised notes dropped.
func parseTable(t *testing.T, md string) []row {
	t.Helper()
	var rows []row
	for line := range strings.SplitSeq(md, "\n") {
		cells := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), "|")
		if len(cells) != 4 || strings.Contains(line, "---") || strings.TrimSpace(cells[0]) == "event" {
			continue
		}
		list := func(s string) []string {
			var out []string
			for part := range strings.SplitSeq(s, ",") {
				if i := strings.Index(part, "("); i >= 0 {
					part = part[:i]
				}
				if p := strings.TrimSpace(part); p != "" && p != "—" {
					out = append(out, p)
				}
			}
			slices.Sort(out)
			return out
		}
		to := strings.TrimSpace(cells[2])
		if i := strings.Index(to, "("); i >= 0 {
			to = strings.TrimSpace(to[:i])
		}
		rows = append(rows, row{event: strings.TrimSpace(cells[0]), from: list(cells[1]), to: to, by: list(cells[3])})
	}
	return rows
}

func codeTable() []row {
	var rows []row
	for _, r := range lifecycle.Table {
		x := row{event: string(r.Event), to: string(r.To)}
		if r.To == lifecycle.RestoreTarget {
			x.to = "the state before deletion"
		}
		for _, s := range r.From {
			x.from = append(x.from, string(s))
		}
		for _, b := range r.By {
			x.by = append(x.by, strings.ToLower(string(b)))
		}
		slices.Sort(x.from)
		slices.Sort(x.by)
		rows = append(rows, x)
	}
	return rows
}

// TestTableMatchesTheDesign compares lifecycle.Table with DESIGN.md's table
// and with the README's, each transcribed independently of the code.
func TestTableMatchesTheDesign(t *testing.T) {
	require.Equal(t, parseTable(t, designTable), codeTable(), "DESIGN.md's state machine")

	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	_, section, ok := strings.Cut(string(readme), "## The state machine")
	require.True(t, ok, "the README has a state machine section")
	section, _, _ = strings.Cut(section, "\n\n`")
	require.Equal(t, parseTable(t, designTable), parseTable(t, section), "the README's state machine")
}

// TestPermits: what each state allows, as DESIGN.md and the README say —
// only ACTIVE writes; ACTIVE, SUSPENDED and CANCELED read and export; a
// PENDING_DELETION tenant's data may be exported (by an admin) and nothing
// else; keys stop working at deletion.
func TestPermits(t *testing.T) {
	want := map[tenantd.State]lifecycle.Permits{
		tenantd.StateActive:          {Read: true, Write: true, Export: true, SignIn: true},
		tenantd.StateSuspended:       {Read: true, Export: true, SignIn: true},
		tenantd.StateCanceled:        {Read: true, Export: true, SignIn: true},
		tenantd.StatePendingDeletion: {Export: true},
		tenantd.StatePurged:          {},
	}
	for s, w := range want {
		p := lifecycle.PermitsOf(s)
		require.Equal(t, [4]bool{w.Read, w.Write, w.Export, w.SignIn}, [4]bool{p.Read, p.Write, p.Export, p.SignIn}, s)
	}
	for _, s := range tenantd.AllStates {
		if lifecycle.CanWrite(s) != nil {
			e := tenantd.AsError(lifecycle.CanWrite(s))
			require.Equal(t, tenantd.EFORBIDDEN, e.Code, s)
			require.Equal(t, string(s), e.Extra["state"])
			require.NotEmpty(t, e.Message)
		}
	}
}

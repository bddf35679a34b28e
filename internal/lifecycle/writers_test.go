package lifecycle_test

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestOnlyLifecycleWritesState scans the product code: outside the generated
// ent package and internal/lifecycle, no code sets a tenant's state or
// history head, or appends to the history. (Tests and benchmarks may, to
// build fixtures and baselines.)
func TestOnlyLifecycleWritesState(t *testing.T) {
	writes := regexp.MustCompile(`\.(SetState|SetNillableState|SetStateBeforeDeletion|ClearStateBeforeDeletion|SetHistorySeq|SetHistoryHead|AddHistorySeq)\(` +
		`|StateTransition\.Create|(?i)update\s+tenants\s+set\s+[^;]*\bstate\b|(?i)insert\s+into\s+state_transitions`)
	root := filepath.Join("..", "..")
	var offenders []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			switch rel {
			case "ent", filepath.Join("internal", "lifecycle"), filepath.Join("internal", "bench"), "node_modules", ".git":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(b), "\n") {
			if writes.MatchString(line) {
				offenders = append(offenders, fmt.Sprintf("%s:%d: %s", rel, i+1, strings.TrimSpace(line)))
			}
		}
		return nil
	})
	require.NoError(t, err)
	require.Empty(t, offenders, "only internal/lifecycle may write tenant state and history")
}

package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/internal/servertest"
	"github.com/tenantd/tenantd/internal/storetest"
)

// readmeExample is a fenced block of README.md with a language, and the
// <!-- example: … --> line right above it that says how to run it:
//
//	as=admin|public|tenant:<name>  the GraphQL block's token
//	id=<name>                      $id is that tenant's id
//	expect=<field>                 that field of the answer is a non-empty list
//	sh                             run with bash, in a directory holding data/dev-admin-token
//	node key=<name> operation=<name>  run with Node.js beside clients/js's packages,
//	                               TENANTD_API_KEY and OPERATION_ID from that tenant's signup
//	error-of=<field>               the JSON is the error that field answers (as, id)
//	skip="why"                     not run here, and why
//
// The tenants are "globex" (pro) and "initech" (starter), signed up before
// the first example, and those the examples sign up, by slug.
type readmeExample struct {
	line  int
	lang  string
	attrs map[string]string
	body  string
}

var (
	exampleMarker = regexp.MustCompile(`^<!-- example: (.*) -->$`)
	exampleAttr   = regexp.MustCompile(`([\w-]+)(?:=("[^"]*"|\S+))?`)
)

// readmeExamples reads every fenced block with a language from README.md;
// each must have its marker.
func readmeExamples(t *testing.T) []readmeExample {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	defer f.Close()
	var out []readmeExample
	var cur *readmeExample
	prev := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case cur != nil && line == "```":
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			cur.body += line + "\n"
		case strings.HasPrefix(line, "```") && len(line) > 3:
			m := exampleMarker.FindStringSubmatch(prev)
			require.NotNil(t, m, "README.md:%d: a %s example without an <!-- example: … --> line above it saying how the test runs it", n, line[3:])
			attrs := map[string]string{}
			for _, a := range exampleAttr.FindAllStringSubmatch(m[1], -1) {
				attrs[a[1]] = strings.Trim(a[2], `"`)
			}
			cur = &readmeExample{line: n, lang: line[3:], attrs: attrs}
		case strings.HasPrefix(line, "```"):
			cur = &readmeExample{line: n, attrs: map[string]string{"skip": "output, not an example"}}
		}
		prev = line
	}
	require.NoError(t, sc.Err())
	return out
}

// operations splits a GraphQL block into its operations (a block may hold
// several anonymous ones): each ends where its outermost braces close.
func operations(doc string) []string {
	var out []string
	depth, start := 0, 0
	inString, inComment := false, false
	for i := 0; i < len(doc); i++ {
		c := doc[i]
		switch {
		case inComment:
			inComment = c != '\n'
		case inString:
			if c == '\\' {
				i++
			} else if c == '"' {
				inString = false
			}
		case c == '#':
			inComment = true
		case c == '"':
			inString = true
		case c == '{':
			depth++
		case c == '}':
			depth--
			if depth == 0 {
				out = append(out, strings.TrimSpace(doc[start:i+1]))
				start = i + 1
			}
		}
	}
	return out
}

type readmeTenant struct {
	id        uuid.UUID
	key, opID string
}

// TestReadmeExamples runs every example of README.md as it is written, in
// the README's order, against a real server (both stores): each GraphQL
// block's operations (no errors; where it says, a non-empty answer), the
// curl command with bash, the graphql-ws snippet with Node.js, and the
// error example against the error the server gives. Only the host and port
// differ: the README's 127.0.0.1:8080 is the test server's. Blocks marked
// skip say why they are not run here.
func TestReadmeExamples(t *testing.T) {
	t.Parallel()
	examples := readmeExamples(t)
	for _, k := range storetest.Kinds(t) {
		t.Run(string(k), func(t *testing.T) {
			t.Parallel()
			srv := servertest.Start(t, k)
			host := strings.TrimPrefix(srv.URL, "http://")
			localize := func(s string) string {
				return strings.NewReplacer("localhost:8080", host, "127.0.0.1:8080", host).Replace(s)
			}
			tenants := map[string]*readmeTenant{}
			for _, f := range []struct{ slug, plan string }{{"globex", "pro"}, {"initech", "starter"}} {
				a := activeTenant(t, srv, f.slug, f.plan)
				tenants[f.slug] = &readmeTenant{id: a.SignUp.Tenant.ID, key: a.SignUp.APIKey}
			}
			named := func(ex readmeExample, attr string) *readmeTenant {
				name := ex.attrs[attr]
				tn := tenants[name]
				require.NotNil(t, tn, "README.md:%d: %s=%s names no tenant (known: the fixtures and the slugs signed up above it)", ex.line, attr, name)
				return tn
			}
			token := func(ex readmeExample) string {
				switch as := ex.attrs["as"]; {
				case as == "admin":
					return admin
				case as == "public":
					return ""
				case strings.HasPrefix(as, "tenant:"):
					ex.attrs["tenant"] = strings.TrimPrefix(as, "tenant:")
					return named(ex, "tenant").key
				default:
					t.Fatalf("README.md:%d: as=%q is not admin, public or tenant:<name>", ex.line, as)
					return ""
				}
			}
			ran := 0
			for _, ex := range examples {
				if _, skip := ex.attrs["skip"]; skip {
					continue
				}
				ran++
				t.Logf("README.md:%d: a %s example %v", ex.line, ex.lang, ex.attrs)
				switch {
				case ex.attrs["error-of"] != "":
					var want struct{ Errors []servertest.Error }
					require.NoError(t, json.Unmarshal([]byte(ex.body), &want), "README.md:%d", ex.line)
					field := ex.attrs["error-of"]
					r := srv.Do(t, token(ex), `mutation($id: ID!) { `+field+`(input: {tenantId: $id}) { tenant { state } } }`,
						map[string]any{"id": named(ex, "id").id})
					require.Len(t, r.Errors, 1, "README.md:%d", ex.line)
					require.Equal(t, want.Errors[0].Message, r.Errors[0].Message, "README.md:%d: the error's message", ex.line)
					require.Equal(t, want.Errors[0].Extensions, r.Errors[0].Extensions, "README.md:%d: the error's extensions", ex.line)
					require.Equal(t, want.Errors[0].Path, r.Errors[0].Path, "README.md:%d: the error's path", ex.line)

				case ex.lang == "graphql":
					for _, op := range operations(ex.body) {
						vars := map[string]any{}
						if strings.Contains(op, "$id") {
							vars["id"] = named(ex, "id").id
						}
						r := srv.Do(t, token(ex), op, vars)
						require.Empty(t, r.Errors, "README.md:%d: %s", ex.line, op)
						var data map[string]json.RawMessage
						require.NoError(t, json.Unmarshal(r.Data, &data))
						if want := ex.attrs["expect"]; want != "" && data[want] != nil {
							var list []any
							require.NoError(t, json.Unmarshal(data[want], &list), "README.md:%d: %s is a list", ex.line, want)
							require.NotEmpty(t, list, "README.md:%d: %s finds what the example above it wrote", ex.line, want)
						}
						if raw, ok := data["signUp"]; ok {
							var su struct {
								APIKey    string
								Tenant    struct{ ID uuid.UUID }
								Operation struct{ ID string }
							}
							require.NoError(t, json.Unmarshal(raw, &su))
							tn, err := srv.DB().Ent.Tenant.Get(tenantd.SystemContext(context.Background()), su.Tenant.ID)
							require.NoError(t, err)
							tenants[*tn.Slug] = &readmeTenant{id: su.Tenant.ID, key: su.APIKey, opID: su.Operation.ID}
							waitState(t, srv, su.Tenant.ID, tenantd.StateActive)
						}
					}

				case ex.lang == "sh":
					dir := t.TempDir()
					require.NoError(t, os.MkdirAll(filepath.Join(dir, "data"), 0o700))
					require.NoError(t, os.WriteFile(filepath.Join(dir, "data", "dev-admin-token"), []byte(admin+"\n"), 0o600))
					cmd := exec.Command("bash", "-euo", "pipefail", "-c", localize(ex.body))
					cmd.Dir = dir
					out, err := cmd.CombinedOutput()
					require.NoError(t, err, "README.md:%d: %s", ex.line, out)
					var r servertest.Response
					require.NoError(t, json.Unmarshal(out, &r), "README.md:%d: a GraphQL answer: %s", ex.line, out)
					require.Empty(t, r.Errors, "README.md:%d", ex.line)
					require.NotEmpty(t, r.Data, "README.md:%d", ex.line)

				case ex.lang == "js" && hasAttr(ex, "node"):
					node, dir := jsClients(t, "graphql-ws")
					// Beside clients/js's package.json, so its imports resolve.
					file := filepath.Join(dir, ".readme-example-"+string(k)+".mjs")
					require.NoError(t, os.WriteFile(file, []byte(localize(ex.body)), 0o600))
					t.Cleanup(func() { os.Remove(file) })
					ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
					defer cancel()
					cmd := exec.CommandContext(ctx, node, file)
					cmd.Env = append(os.Environ(), "TENANTD_API_KEY="+named(ex, "key").key, "OPERATION_ID="+named(ex, "operation").opID)
					out, err := cmd.CombinedOutput()
					require.NoError(t, err, "README.md:%d: %s", ex.line, out)
					require.Contains(t, string(out), `"status":"SUCCEEDED"`, "README.md:%d: the operation's progress", ex.line)
					require.Contains(t, string(out), "done", "README.md:%d: the subscription completes", ex.line)

				default:
					t.Fatalf("README.md:%d: no way to run a %q example with %v", ex.line, ex.lang, ex.attrs)
				}
			}
			require.Greater(t, ran, 10, "examples run")
		})
	}
}

func hasAttr(ex readmeExample, name string) bool {
	_, ok := ex.attrs[name]
	return ok
}

package export

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/tenantd/tenantd"
)

// FormatVersion is the version of the archive format that this tenantd
// writes, and the only one it imports. A change that an older reader would
// misread (a field renamed, a meaning changed) raises it; a new optional
// field does not.
const FormatVersion = 1

// Format is an archive's format: how its record files are written.
// manifest.json and tenant.json are JSON in both.
type Format string

// The formats.
const (
	JSON Format = "JSON" // one JSON object per line (.jsonl)
	CSV  Format = "CSV"  // RFC 4180, a header row first (.csv)
)

// The files every archive has, whatever its format.
const (
	FileManifest = "manifest.json"
	FileTenant   = "tenant.json"
)

// The record files, by base name; the format gives the extension.
const (
	Documents   = "documents"
	QueryLog    = "query_log"
	Transitions = "transitions"
	Operations  = "operations"
	APIKeys     = "api_keys"
	Milestones  = "milestones"
)

// recordFiles are the record files in the order an archive holds them.
var recordFiles = []string{Documents, QueryLog, Transitions, Operations, APIKeys, Milestones}

// FileName returns the name of a record file in an archive of format f.
func FileName(base string, f Format) string {
	if f == CSV {
		return base + ".csv"
	}
	return base + ".jsonl"
}

// Manifest is manifest.json: what the archive holds and how to check it.
// It is the archive's last entry, written once every other file's digest
// is known.
type Manifest struct {
	FormatVersion int       `json:"formatVersion"`
	Generator     string    `json:"generator"`
	TenantID      uuid.UUID `json:"tenantId"`
	ExportID      uuid.UUID `json:"exportId"`
	// ExportedAt is when the archive's snapshot of the workspace was taken.
	ExportedAt time.Time `json:"exportedAt"`
	Format     Format    `json:"format"`
	// Files lists every other entry of the archive, in archive order.
	Files []File `json:"files"`
}

// File is one entry of the manifest: the uncompressed file's record count
// (lines of a .jsonl file, rows after the header of a .csv file, 1 for
// tenant.json), its length in bytes and its hex SHA-256.
type File struct {
	Name    string `json:"name"`
	Records int64  `json:"records"`
	Bytes   int64  `json:"bytes"`
	SHA256  string `json:"sha256"`
}

// TenantRecord is tenant.json: the tenant's profile.
type TenantRecord struct {
	ID             uuid.UUID  `json:"id"`
	Name           string     `json:"name"`
	Slug           string     `json:"slug"`
	Email          string     `json:"email"`
	State          string     `json:"state"`
	Plan           string     `json:"plan"`
	Isolation      string     `json:"isolation"`
	CreatedAt      time.Time  `json:"createdAt"`
	StateChangedAt time.Time  `json:"stateChangedAt"`
	PurgeAfter     *time.Time `json:"purgeAfter"`
	Billing        Billing    `json:"billing"`
	Usage          Usage      `json:"usage"`
}

// Billing holds the tenant's references at the billing provider.
type Billing struct {
	CustomerID     *string `json:"customerId"`
	SubscriptionID *string `json:"subscriptionId"`
}

// Usage is the workspace's usage counters as the snapshot read them.
type Usage struct {
	Documents  int64  `json:"documents"`
	Bytes      int64  `json:"bytes"`
	Queries    int64  `json:"queries"`
	QueryMonth string `json:"queryMonth"`
}

// record is one line of a record file: a JSON object (its struct tags) or
// a CSV row (csvRow, in the order of its file's header).
type record interface{ csvRow() []string }

// DocumentRecord is one line of documents.jsonl / row of documents.csv.
type DocumentRecord struct {
	ID        uuid.UUID `json:"id"`
	Title     string    `json:"title"`
	Content   string    `json:"content"`
	SizeBytes int64     `json:"sizeBytes"`
	CreatedAt time.Time `json:"createdAt"`
}

var documentHeader = []string{"id", "title", "content", "sizeBytes", "createdAt"}

func (d *DocumentRecord) csvRow() []string {
	return []string{d.ID.String(), d.Title, d.Content, strconv.FormatInt(d.SizeBytes, 10), csvTime(d.CreatedAt)}
}

// QueryRecord is one entry of the query log.
type QueryRecord struct {
	ID        uuid.UUID `json:"id"`
	Query     string    `json:"query"`
	Hits      int       `json:"hits"`
	CreatedAt time.Time `json:"createdAt"`
}

var queryHeader = []string{"id", "query", "hits", "createdAt"}

func (q *QueryRecord) csvRow() []string {
	return []string{q.ID.String(), q.Query, strconv.Itoa(q.Hits), csvTime(q.CreatedAt)}
}

// TransitionRecord is one row of the tenant's history, its free text
// (reason, private details) included: it is the tenant's own data.
type TransitionRecord struct {
	Seq         int            `json:"seq"`
	Event       string         `json:"event"`
	FromState   *string        `json:"fromState"`
	ToState     string         `json:"toState"`
	TriggeredBy string         `json:"triggeredBy"`
	Actor       string         `json:"actor"`
	Reason      string         `json:"reason"`
	Metadata    map[string]any `json:"metadata"`
	Private     map[string]any `json:"private"`
	OccurredAt  time.Time      `json:"occurredAt"`
	PrevHash    string         `json:"prevHash"`
	Hash        string         `json:"hash"`
}

var transitionHeader = []string{"seq", "event", "fromState", "toState", "triggeredBy", "actor", "reason", "metadata", "private", "occurredAt", "prevHash", "hash"}

func (t *TransitionRecord) csvRow() []string {
	return []string{strconv.Itoa(t.Seq), t.Event, csvString(t.FromState), t.ToState, t.TriggeredBy, t.Actor, t.Reason,
		csvJSON(t.Metadata), csvJSON(t.Private), csvTime(t.OccurredAt), t.PrevHash, t.Hash}
}

// OperationRecord is one of the tenant's operations.
type OperationRecord struct {
	ID           uuid.UUID               `json:"id"`
	Kind         string                  `json:"kind"`
	Status       string                  `json:"status"`
	Steps        []tenantd.OperationStep `json:"steps"`
	Params       map[string]any          `json:"params"`
	Result       map[string]any          `json:"result"`
	RequestedBy  string                  `json:"requestedBy"`
	Attempt      int                     `json:"attempt"`
	ErrorCode    *string                 `json:"errorCode"`
	ErrorMessage *string                 `json:"errorMessage"`
	CreatedAt    time.Time               `json:"createdAt"`
	StartedAt    *time.Time              `json:"startedAt"`
	FinishedAt   *time.Time              `json:"finishedAt"`
}

var operationHeader = []string{"id", "kind", "status", "steps", "params", "result", "requestedBy", "attempt", "errorCode", "errorMessage",
	"createdAt", "startedAt", "finishedAt"}

func (o *OperationRecord) csvRow() []string {
	return []string{o.ID.String(), o.Kind, o.Status, csvJSON(o.Steps), csvJSON(o.Params), csvJSON(o.Result), o.RequestedBy,
		strconv.Itoa(o.Attempt), csvString(o.ErrorCode), csvString(o.ErrorMessage), csvTime(o.CreatedAt), csvTimePtr(o.StartedAt), csvTimePtr(o.FinishedAt)}
}

// APIKeyRecord is one of the tenant's API keys: metadata only. The secret
// is never stored by tenantd, and its hash never leaves it.
type APIKeyRecord struct {
	ID         uuid.UUID  `json:"id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	CreatedBy  string     `json:"createdBy"`
	CreatedAt  time.Time  `json:"createdAt"`
	LastUsedAt *time.Time `json:"lastUsedAt"`
	RevokedAt  *time.Time `json:"revokedAt"`
}

var apiKeyHeader = []string{"id", "name", "prefix", "createdBy", "createdAt", "lastUsedAt", "revokedAt"}

func (k *APIKeyRecord) csvRow() []string {
	return []string{k.ID.String(), k.Name, k.Prefix, k.CreatedBy, csvTime(k.CreatedAt), csvTimePtr(k.LastUsedAt), csvTimePtr(k.RevokedAt)}
}

// MilestoneRecord is one step of the tenant's activation.
type MilestoneRecord struct {
	Name       string    `json:"name"`
	OccurredAt time.Time `json:"occurredAt"`
}

var milestoneHeader = []string{"name", "occurredAt"}

func (m *MilestoneRecord) csvRow() []string { return []string{m.Name, csvTime(m.OccurredAt)} }

// headers are the CSV headers of the record files.
var headers = map[string][]string{
	Documents: documentHeader, QueryLog: queryHeader, Transitions: transitionHeader,
	Operations: operationHeader, APIKeys: apiKeyHeader, Milestones: milestoneHeader,
}

// csvTime is a time as CSV cells hold it: RFC 3339 in UTC, as in JSON.
func csvTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func csvTimePtr(t *time.Time) string {
	if t == nil {
		return ""
	}
	return csvTime(*t)
}

func csvString(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// csvJSON is a structured value as a CSV cell: its JSON text ("null" for
// none), so that nothing of it is lost.
func csvJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "null"
	}
	return string(b)
}

package lifecycle

import (
	"fmt"
	"time"

	"github.com/tenantd/tenantd"
	"github.com/tenantd/tenantd/ent"
)

// Permits is what a tenant in a state may do. It is the one answer to "may
// this tenant …": the workspace's gates, webhooks and the GraphQL layer ask
// it instead of keeping lists of their own.
type Permits struct {
	// Read: its workspace may be read (documents, search, usage).
	Read bool
	// Write: its workspace may be written (uploads).
	Write bool
	// Export: its data may be exported (for an admin also while
	// PENDING_DELETION: export, then delete).
	Export bool
	// SignIn: its API keys authenticate.
	SignIn bool
	// why is the message of a refusal: what the state means and what to do.
	why string
}

var permits = map[tenantd.State]Permits{
	tenantd.StatePending:            {SignIn: true, why: "the workspace is still being provisioned; try again in a moment"},
	tenantd.StateProvisioning:       {SignIn: true, why: "the workspace is still being provisioned; try again in a moment"},
	tenantd.StateProvisioningFailed: {SignIn: true, why: "provisioning of this workspace failed; an admin can resume it with retryProvisioning"},
	tenantd.StateActive:             {Read: true, Write: true, Export: true, SignIn: true},
	tenantd.StateSuspended:          {Read: true, Export: true, SignIn: true, why: "the tenant is SUSPENDED: its workspace is read-only until it is resumed"},
	tenantd.StateCanceled:           {Read: true, Export: true, SignIn: true, why: "the tenant's subscription is CANCELED: its workspace is read-only; reactivate it to write again"},
	tenantd.StatePendingDeletion: {Export: true, why: "the tenant is PENDING_DELETION: its data is scheduled for deletion and cannot be used; " +
		"restore the tenant to use it again"},
	tenantd.StatePurged: {why: "the tenant was purged: its data no longer exists"},
}

// PermitsOf returns what state s permits.
func PermitsOf(s tenantd.State) Permits { return permits[s] }

// CanRead returns nil if a tenant in state s may read its workspace, else
// FORBIDDEN with the state and a message saying why.
func CanRead(s tenantd.State) error {
	if permits[s].Read {
		return nil
	}
	return refusal(s)
}

// CanWrite returns nil if a tenant in state s may write its workspace, else
// FORBIDDEN with the state and a message saying why.
func CanWrite(s tenantd.State) error {
	if permits[s].Write {
		return nil
	}
	return refusal(s)
}

// CanReadTenant is CanRead for a tenant, whose refusal names its purge
// date while it is PENDING_DELETION.
func CanReadTenant(t *ent.Tenant) error {
	if permits[t.State].Read {
		return nil
	}
	return refusalOf(t)
}

// CanWriteTenant is CanWrite for a tenant; see CanReadTenant.
func CanWriteTenant(t *ent.Tenant) error {
	if permits[t.State].Write {
		return nil
	}
	return refusalOf(t)
}

func refusalOf(t *ent.Tenant) error {
	err := refusal(t.State).(*tenantd.Error)
	if t.State == tenantd.StatePendingDeletion && t.PurgeAfter != nil {
		at := t.PurgeAfter.UTC()
		err.Message = fmt.Sprintf("the tenant is PENDING_DELETION: its data will be purged on %s and cannot be used until then; "+
			"restore the tenant (restoreTenant) to use it again", at.Format("2006-01-02 15:04 UTC"))
		err.Extra["purgeAfter"] = at.Format(time.RFC3339)
	}
	return err
}

func refusal(s tenantd.State) error {
	msg := permits[s].why
	if msg == "" {
		msg = "the workspace is not available in state " + string(s)
	}
	return &tenantd.Error{Code: tenantd.EFORBIDDEN, Message: msg, Extra: map[string]any{"state": string(s)}}
}

package provisioning

import (
	"fmt"
	"strings"

	"github.com/tenantd/tenantd/ent"
)

// confirmation writes the signup confirmation email.
func confirmation(t *ent.Tenant, publicURL string) (subject, text string) {
	slug := ""
	if t.Slug != nil {
		slug = *t.Slug
	}
	link := strings.TrimSuffix(publicURL, "/") + "/#/tenants/" + t.ID.String()
	subject = fmt.Sprintf("Your workspace %q is ready", t.Name)
	text = fmt.Sprintf(`Hello,

your workspace %q (%s) is provisioned and ready to use.

Open it here: %s

Tenant id: %s

Upload your first document and run your first query to get started.

— tenantd
`, t.Name, slug, link, t.ID)
	return subject, text
}

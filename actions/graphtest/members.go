package graphtest

import (
	"net/http"
	"strings"
)

// groupUsers lists the users who are transitive members of a group (the OData type
// cast /transitiveMembers/microsoft.graph.user), paged at 100 by default and up to 999
// with $top, as Graph pages it. Each user is in the shape and $select of /users.
func (s *Server) groupUsers(w http.ResponseWriter, r *http.Request, v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := r.PathValue("id")
	if _, typ, ok := s.tenant.item(id); !ok || typ != "#microsoft.graph.group" {
		notFound(w, id)
		return
	}
	sel := r.URL.Query().Get("$select")
	out := []any{}
	for _, u := range s.tenant.Users {
		for _, g := range u.MemberOf {
			if strings.EqualFold(g, id) {
				obj := copyMap(u.User)
				obj["@odata.type"] = "#microsoft.graph.user"
				out = append(out, selectFields(obj, sel))
				break
			}
		}
	}
	writeCollection(w, r, v, "users", out, 100)
}

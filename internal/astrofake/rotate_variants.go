package astrofake

// RotateVariant changes how RotateApiToken behaves, for tests of a client
// that must not depend on what the fake infers (doc.go, "Rotation"): the
// default keeps the id and restarts the validity window.
type RotateVariant struct {
	// NewID: the rotated token comes back under a new id (same name,
	// description, roles, scope and expiry period); the old id is gone.
	NewID bool
	// KeepEndAt: the validity window does not restart.
	KeepEndAt bool
}

// SetRotateVariant makes every later rotate behave as v says.
func (s *Server) SetRotateVariant(v RotateVariant) {
	s.mu.Lock()
	s.rotateVariant = v
	s.mu.Unlock()
}

// reissueLocked moves t to a new id, as RotateVariant.NewID asks.
func (s *Server) reissueLocked(t *token) *token {
	n := *t
	n.roles = append([]Role(nil), t.roles...)
	n.id = s.newID()
	n.seq = s.nextSeq()
	t.deleted = true
	s.tokens[n.id] = &n
	return &n
}

// IssuedValues returns every token value the fake ever minted (seeded,
// created or rotated; deleted ones too): what a test scans every output
// for.
func (s *Server) IssuedValues() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.issued...)
}

// SetOmitTokenIDClaim makes values minted from now on carry no apiTokenId
// claim. astro-cli needs only a non-empty permissions claim; whether every
// kind and age of real token carries apiTokenId is not documented
// (astro-api.md §6), so a client must not depend on it.
func (s *Server) SetOmitTokenIDClaim(omit bool) {
	s.mu.Lock()
	s.omitTokenIDClaim = omit
	s.mu.Unlock()
}

package truce

// SchemaCacheLen returns the number of compiled schemas s holds.
func SchemaCacheLen(s *Service) int { return s.schemas.len() }

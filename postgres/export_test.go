package postgres

import "context"

// Setting returns the value of a setting on a connection of s's pool.
func Setting(s *Store, name string) (string, error) {
	var v string
	err := s.pool.QueryRow(context.Background(), "SELECT current_setting($1)", name).Scan(&v)
	return v, err
}

// StoreError is storeError, for the tests of its mapping.
var StoreError = storeError

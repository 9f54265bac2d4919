package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/trucedb/truce/auth"
)

// newTokenCmd returns `truce token create|list|revoke`, which manage the
// auth file that `truce serve --auth-file` reads. They edit the file
// directly, atomically; a running server picks the change up by itself.
func newTokenCmd(stdout io.Writer) *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Create, list and revoke the bearer tokens of an auth file",
		Long: `Create, list and revoke the bearer tokens of an auth file.

The auth file keeps only the SHA-256 of each token; 'truce token create'
prints the token itself once. A server started with --auth-file reloads
the file when it changes, and on SIGHUP.`,
	}
	cmd.PersistentFlags().StringVar(&path, "auth-file", "", "`PATH` of the auth file (required)")
	needFile := func() error {
		if path == "" {
			return usageErrorf("--auth-file is required")
		}
		return nil
	}

	var name, rate string
	var scopes []string
	var burst int
	create := &cobra.Command{
		Use:   "create --name NAME --scope SCOPE...",
		Short: "Generate a token, add its hash to the auth file and print it once",
		Long: `Generate a random token (256 bits), add its SHA-256 to the auth file under
--name, and print the token once: it cannot be shown again.

Scopes: read:<collection>, write:<collection> (implies read), with * for
every collection, and admin (everything). Give --scope once per scope.`,
		Example: `  truce token create --auth-file auth.json --name ci --scope 'read:*' --scope write:orders`,
		Args:    cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if err := needFile(); err != nil {
				return err
			}
			if name == "" {
				return usageErrorf("--name is required")
			}
			if len(scopes) == 0 {
				return usageErrorf("give at least one --scope (read:<collection>, write:<collection>, admin)")
			}
			f, err := auth.LoadOrEmpty(path)
			if err != nil {
				return err
			}
			token := auth.NewToken()
			err = f.Add(auth.Entry{Name: name, SHA256: auth.HashToken(token), Scopes: scopes, Rate: rate, Burst: burst})
			if err != nil {
				return &usageError{err: err}
			}
			if err := f.Save(path); err != nil {
				return fmt.Errorf("save %s: %w", path, err)
			}
			fmt.Fprintln(stdout, token)
			return nil
		},
	}
	create.Flags().StringVar(&name, "name", "", "`NAME` of the token, as versions record it in _updatedBy (required)")
	create.Flags().StringArrayVar(&scopes, "scope", nil, "a `SCOPE` the token grants; repeat for more")
	create.Flags().StringVar(&rate, "rate", "", "the token's own rate limit, such as 50/s (default: the server's --rate-limit)")
	create.Flags().IntVar(&burst, "burst", 0, "the token's burst (default: two seconds of its rate)")

	var asJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List the tokens of the auth file (names, scopes and rates; never a token)",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if err := needFile(); err != nil {
				return err
			}
			f, err := auth.Load(path)
			if err != nil {
				return err
			}
			if asJSON {
				type row struct {
					Name   string   `json:"name"`
					Scopes []string `json:"scopes"`
					Rate   string   `json:"rate,omitempty"`
					Burst  int      `json:"burst,omitempty"`
				}
				rows := make([]row, 0, len(f.Tokens))
				for _, e := range f.Tokens {
					rows = append(rows, row{e.Name, e.Scopes, e.Rate, e.Burst})
				}
				return json.NewEncoder(stdout).Encode(rows)
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tSCOPES\tRATE")
			for _, e := range f.Tokens {
				r := e.Rate
				if r == "" {
					r = "default"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\n", e.Name, strings.Join(e.Scopes, " "), r)
			}
			return tw.Flush()
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON for scripts instead of text for people")

	var revokeName string
	revoke := &cobra.Command{
		Use:   "revoke --name NAME",
		Short: "Remove a token from the auth file",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if err := needFile(); err != nil {
				return err
			}
			if revokeName == "" {
				return usageErrorf("--name is required")
			}
			f, err := auth.Load(path)
			if err != nil {
				return err
			}
			if err := f.Remove(revokeName); err != nil {
				return err
			}
			return f.Save(path)
		},
	}
	revoke.Flags().StringVar(&revokeName, "name", "", "`NAME` of the token to revoke (required)")

	cmd.AddCommand(create, list, revoke)
	return cmd
}

package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	trucehttp "github.com/trucedb/truce/http"
)

// newOpenAPICmd prints the OpenAPI document, as a server serves it at
// /v1/openapi.json, without a server.
func newOpenAPICmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "openapi",
		Short: "Print the OpenAPI 3.1 document of the HTTP API",
		Long: `Print the OpenAPI 3.1 document of the HTTP API, the one a server serves at
/v1/openapi.json, for client generators (make openapi-client generates a Go
client with oapi-codegen and compiles it).`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			b, err := trucehttp.OpenAPI()
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(stdout, "%s\n", b)
			return err
		},
	}
}

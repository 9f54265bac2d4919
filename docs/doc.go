// Package docs holds truce's documentation: the API reference (api.md), the
// CLI and SDK guide, the benchmarks and the console's screenshots. It has no
// code; its test runs every shell example of the README and of these pages
// against a real server, in order, and checks what each example shows.
package docs

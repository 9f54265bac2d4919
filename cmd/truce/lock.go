package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/trucedb/truce/client"
)

// lockTokenCommands are the commands that take --lock-token: every write,
// and lock (to renew) and unlock.
var lockTokenCommands = []string{"put", "patch", "delete", "restore", "resolve", "lock", "unlock"}

// addLockTokenFlag gives the commands that write --lock-token.
func addLockTokenFlag(cmd *cobra.Command) {
	if slices.Contains(lockTokenCommands, cmd.Name()) {
		cmd.Flags().String("lock-token", "", "the `TOKEN` of the lock you hold on the document ('truce lock' prints it)")
	}
}

// lockTokenOption returns the call option of --lock-token, if given.
func lockTokenOption(cmd *cobra.Command) []client.CallOption {
	f := cmd.Flags().Lookup("lock-token")
	if f == nil || f.Value.String() == "" {
		return nil
	}
	return []client.CallOption{client.LockToken(f.Value.String())}
}

func newLockCmd(o *clientOptions) *cobra.Command {
	var (
		ttl, wait time.Duration
		owner     string
	)
	cmd := &cobra.Command{
		Use:   "lock COLLECTION ID",
		Short: "Lock a document, or renew your lock",
		Long: `Take the lock on a document for --ttl and print its token on stdout. While
the lock lives, writes to the document without the token are refused (423);
give the token to 'truce put', 'patch', 'delete', 'restore' and 'resolve'
with --lock-token. The document need not exist yet.

The lock ends by itself when its ttl passes (the server caps it, 5m by
default): renew it with 'truce lock COLLECTION ID --lock-token TOKEN', and
release it with 'truce unlock'. When someone else holds the lock, the
command fails at once, or waits up to --wait for it, in turn with the other
waiters. With --json, stdout gets the lock as JSON.`,
		Example: `  TOKEN=$(truce lock notes n1 --ttl 2m --owner alice)
  truce put notes n1 -f note.json --lock-token "$TOKEN"
  truce lock notes n1 --lock-token "$TOKEN"      # renew
  truce unlock notes n1 --lock-token "$TOKEN"
  truce lock show notes n1`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if ttl < 0 || wait < 0 {
				return usageErrorf("--ttl and --wait must not be negative")
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if opt := lockTokenOption(cmd); opt != nil {
				if cmd.Flags().Changed("wait") || cmd.Flags().Changed("owner") {
					return usageErrorf("--wait and --owner go with a new lock, not with --lock-token (a renewal)")
				}
				token := cmd.Flags().Lookup("lock-token").Value.String()
				info, err := c.RenewLock(ctx, args[0], args[1], token, ttl)
				if err != nil {
					return lockFailed(cmd, c, err, args[0], args[1])
				}
				return o.printLock(cmd, "renewed", info, token)
			}
			opts := []client.CallOption{}
			if owner != "" {
				opts = append(opts, client.LockOwner(owner))
			}
			if wait > 0 {
				opts = append(opts, client.LockWait(wait))
			}
			l, err := c.Lock(ctx, args[0], args[1], ttl, opts...)
			if err != nil {
				return lockFailed(cmd, c, err, args[0], args[1])
			}
			l.Detach() // the lock outlives this process; its holder renews it
			info := l.Info()
			return o.printLock(cmd, "locked", &info, l.Token())
		},
	}
	f := cmd.Flags()
	f.DurationVar(&ttl, "ttl", 0, "how long the lock lasts without renewal (`duration`; default 30s, capped by the server)")
	f.DurationVar(&wait, "wait", 0, "how long to wait for a lock someone else holds (`duration`; default: fail at once)")
	f.StringVar(&owner, "owner", "", "who takes the lock, as others see it (`NAME`)")
	cmd.AddCommand(newLockShowCmd(o))
	return cmd
}

func newLockShowCmd(o *clientOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "show COLLECTION ID",
		Short: "Show who holds the lock on a document",
		Long: `Show the lock on a document: who holds it, since and until when. The token is
never shown. A document that is not locked exits 1.`,
		Example: `  truce lock show notes n1
  truce lock show notes n1 --json | jq .expiresAt`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			info, err := c.GetLock(cmd.Context(), args[0], args[1])
			if err != nil {
				return requestFailed(cmd, c, err, args[0], args[1], 0)
			}
			if o.json {
				return o.printJSON(cmd, info)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s/%s is locked by %q until %s (%s left), since %s, fence %d\n",
				info.Collection, info.ID, info.Owner, info.ExpiresAt.UTC().Format(time.RFC3339),
				time.Until(info.ExpiresAt).Round(time.Second), info.AcquiredAt.UTC().Format(time.RFC3339), info.Fence)
			return nil
		},
	}
}

func newUnlockCmd(o *clientOptions) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "unlock COLLECTION ID (--lock-token TOKEN | --force)",
		Short: "Release a lock",
		Long: `Release the lock on a document with the token 'truce lock' printed. --force
breaks whatever lock is held, without the token: for an administrator, when
the holder is gone. With --json nothing is printed.`,
		Example: `  truce unlock notes n1 --lock-token "$TOKEN"
  truce unlock notes n1 --force`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			token := cmd.Flags().Lookup("lock-token").Value.String()
			if (token == "") == !force {
				return usageErrorf("give either --lock-token TOKEN (your lock) or --force (any lock)")
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			if force {
				err = c.BreakLock(cmd.Context(), args[0], args[1])
			} else {
				err = c.Unlock(cmd.Context(), args[0], args[1], token)
			}
			if err != nil {
				return lockFailed(cmd, c, err, args[0], args[1])
			}
			if !o.json {
				fmt.Fprintf(cmd.OutOrStdout(), "unlocked %s/%s\n", args[0], args[1])
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "break any lock, without its token")
	return cmd
}

// printLock prints a lock someone just took or renewed: for people, the
// token alone on stdout (so that TOKEN=$(truce lock …) works) and the rest
// on stderr; with --json, the lock with its token on stdout.
func (o *clientOptions) printLock(cmd *cobra.Command, verb string, info *client.LockInfo, token string) error {
	if o.json {
		b, err := json.Marshal(struct {
			Token string `json:"token"`
			*client.LockInfo
		}{token, info})
		if err != nil {
			return err
		}
		return o.writeJSON(cmd, b)
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "%s %s/%s for %q until %s (fence %d); write with --lock-token, release with 'truce unlock %s %s --lock-token …'\n",
		verb, info.Collection, info.ID, info.Owner, info.ExpiresAt.UTC().Format(time.RFC3339), info.Fence, info.Collection, info.ID)
	fmt.Fprintln(cmd.OutOrStdout(), token)
	return nil
}

// lockFailed is requestFailed for lock requests, with what the holder
// said for a 423.
func lockFailed(cmd *cobra.Command, c *client.Client, err error, collection, id string) error {
	var e *client.Error
	if client.IsLocked(err) && errors.As(err, &e) && e.RetryAfter > 0 {
		return fmt.Errorf("%w\n  Wait for it with --wait %s, or see the holder with 'truce lock show %s %s'",
			requestFailed(cmd, c, err, "", "", 0), e.RetryAfter.Round(time.Second), collection, id)
	}
	return requestFailed(cmd, c, err, "", "", 0)
}

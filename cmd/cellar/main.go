// Command cellar is Cellar's caching reverse proxy, an RFC 9111 shared HTTP
// cache in front of any origin, and the tools that go with it.
//
// Usage:
//
//	cellar serve --upstream URL [flags]   run the caching reverse proxy
//	cellar explain URL|- [flags]          say how a cache treats a response, and why
//	cellar demo-origin [--listen ADDR]    run a small origin to try the cache on
//	cellar top [--admin URL] [--once]     watch a running cellar serve's status page in a terminal
//	cellar version                        print the version
//
// Every flag can also be set from the environment: the flags of serve as
// CELLAR_<FLAG> (--max-size from CELLAR_MAX_SIZE, --upstream from
// CELLAR_UPSTREAM), those of explain as CELLAR_EXPLAIN_<FLAG> and those of
// demo-origin as CELLAR_DEMO_<FLAG>: the flag's name in upper case with dashes
// as underscores. Those of top share serve's prefix, so that CELLAR_ADMIN and
// CELLAR_ADMIN_TOKEN point it at the serve they configure. A flag on the command line wins over its variable. `cellar
// COMMAND -h` lists each flag with its variable.
//
// Exit status: 0 on success, 2 when the configuration is refused (the
// message names the flag and what is wrong), 1 on any other failure.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `cellar: an RFC 9111 caching reverse proxy

Usage:
  cellar serve --upstream URL [flags]   run the caching reverse proxy
  cellar explain URL|- [flags]          say how a cache treats a response, and why
  cellar demo-origin [--listen ADDR]    run a small origin to try the cache on
  cellar top [--admin URL] [--once]     watch a running cellar serve's status page in a terminal
  cellar version                        print the version

Run 'cellar COMMAND -h' for a command's flags and the environment variable
that sets each (CELLAR_UPSTREAM, CELLAR_MAX_SIZE, ... for serve).
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one subcommand and returns the process exit code: 0 on
// success, 2 for a usage or configuration error, 1 for any other failure.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve":
		err = runServe(ctx, rest, stdout, stderr)
	case "explain":
		err = runExplain(ctx, rest, stdin, stdout, stderr)
	case "demo-origin":
		err = runDemoOrigin(ctx, rest, stdout, stderr)
	case "top":
		err = runTop(ctx, rest, stdout, stderr)
	case "version", "--version", "-version":
		err = runVersion(rest, stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "cellar: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, new(*usageError)):
		fmt.Fprintf(stderr, "cellar %s: %v\n", args[0], err)
		return 2
	default:
		fmt.Fprintf(stderr, "cellar %s: %v\n", args[0], err)
		return 1
	}
}

// usageError is a configuration error: a flag (or its environment variable)
// that is missing or wrong. It is reported with exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

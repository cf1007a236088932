package providers

import (
	"context"
	"fmt"
	"io"
	"log/slog"
)

// V returns the slog level of verbosity n: a record logged at V(n) is shown when the binary
// runs with -v=n or higher. Warnings and errors are always shown; V(0) is slog.LevelInfo.
func V(n int) slog.Level { return slog.Level(-n) }

// NewLogger returns a logger that writes text records to w (stderr in a plugin) at the given
// verbosity. Records carry no timestamp: the kubelet stamps the plugin's stderr itself.
// At verbosity 0 only warnings and errors are written, so a healthy plugin is silent.
func NewLogger(w io.Writer, verbosity int) *slog.Logger {
	level := V(verbosity)
	if verbosity <= 0 {
		level = slog.LevelWarn
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			if len(groups) == 0 && a.Key == slog.LevelKey {
				// Verbosity levels print as V1, V2…, the way klog users read them.
				if l, ok := a.Value.Any().(slog.Level); ok && l < slog.LevelInfo {
					return slog.String(slog.LevelKey, fmt.Sprintf("V%d", -int(l)))
				}
			}
			return a
		},
	}))
}

// discard is the logger of a library whose caller gave none.
var discard = slog.New(slog.DiscardHandler)

// OrDiscard returns l, or a logger that drops everything when l is nil.
func OrDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return discard
	}
	return l
}

type loggerKey struct{}

// WithLogger returns a context carrying l, for Run and the providers it calls.
func WithLogger(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, l)
}

// Logger returns the logger carried by ctx, or one that drops everything.
func Logger(ctx context.Context) *slog.Logger {
	l, _ := ctx.Value(loggerKey{}).(*slog.Logger)
	return OrDiscard(l)
}

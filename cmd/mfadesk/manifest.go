package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/mfadesk/mfadesk/bot"
	"github.com/mfadesk/mfadesk/manifest"
)

func cmdManifest(_ context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 || (bot.Platform(args[0]) != bot.PlatformSlack && bot.Platform(args[0]) != bot.PlatformTeams) {
		fmt.Fprintln(stderr, "Usage: mfadesk manifest slack [--mode socket|http] [--base-url URL] [--format yaml|json]\n       mfadesk manifest teams --out app.zip (--bot-id GUID | --config FILE) [--version X.Y.Z]")
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return nil
		}
		return errUsage
	}
	if bot.Platform(args[0]) == bot.PlatformSlack {
		fs := newFlags("manifest slack", "manifest slack [--mode socket|http] [--base-url URL] [--format yaml|json]", stderr)
		mode := fs.String("mode", "socket", "socket (no inbound port; recommended) or http (request URLs under --base-url)")
		base := fs.String("base-url", "", "for http mode: where mfadesk is reachable, e.g. https://mfadesk.contoso.com")
		format := fs.String("format", "yaml", "yaml or json (both paste into Slack's app manifest editor)")
		org := fs.Bool("org-deploy", false, "mark the app for org-wide deployment on Enterprise Grid")
		if err := parseFlags(fs, args[1:]); err != nil {
			return err
		}
		b, err := manifest.Slack(manifest.SlackOptions{Mode: *mode, BaseURL: *base, Format: *format, OrgDeploy: *org})
		if err != nil {
			return fmt.Errorf("slack manifest: %w", err)
		}
		_, err = stdout.Write(b)
		return err
	}
	fs := newFlags("manifest teams", "manifest teams --out app.zip (--bot-id GUID | --config FILE) [--version X.Y.Z]", stderr)
	out := fs.String("out", "app.zip", "where to write the Teams app package")
	botID := fs.String("bot-id", "", "the bot's Microsoft App ID (config teams.app_id)")
	cfgPath := fs.String("config", "", "configuration file to read teams.app_id from")
	ver := fs.String("version", "1.0.0", "app version; raise it for every upload")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if *botID == "" && *cfgPath != "" {
		c, err := LoadConfig(*cfgPath, getenv)
		if err != nil {
			return err
		}
		*botID = c.Teams.AppID
	}
	if *botID == "" {
		return fmt.Errorf("give the bot's app id with --bot-id or --config: %w", errUsage)
	}
	zip, err := manifest.TeamsPackage(manifest.TeamsOptions{BotID: *botID, Version: *ver})
	if err != nil {
		return fmt.Errorf("teams package: %w", err)
	}
	if err := os.WriteFile(*out, zip, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", *out, err)
	}
	fmt.Fprintf(stdout, "wrote %s (%d bytes): upload it in Teams (Apps → Manage your apps → Upload an app)\n", *out, len(zip))
	return nil
}

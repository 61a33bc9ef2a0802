// Command mfadesk is the MFA helpdesk bot for Slack and Microsoft Teams.
//
// It owns flags, the configuration file, wiring and the sub-commands (serve, demo,
// version, and the operator commands); business rules live in the packages it wires.
package main

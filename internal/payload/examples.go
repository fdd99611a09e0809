package payload

import "embed"

// Examples holds tested templates for common targets: slack.tmpl (a Slack
// incoming webhook's {"text": ...}) and pagerduty.tmpl (a PagerDuty Events
// v2 trigger).
//
//go:embed examples/*.tmpl
var Examples embed.FS

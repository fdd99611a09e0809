package producer

// Prepare runs Publish's validation and encoding without producing.
func Prepare(p *Producer, ev Event) error {
	_, _, err := p.record(&ev)
	return err
}

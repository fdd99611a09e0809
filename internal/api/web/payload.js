// The body's shape: the event as published, its ids only, the older
// receivers' legacy body, or the endpoint's own template. A template is checked by
// the API on save; its syntax errors come back naming payload.template.

import { h, field } from './dom.js';

const SHAPES = [
  ['full', 'Full event: the envelope as published (an array of them in a batch)'],
  ['thin', 'Thin: type, ids and time only; your receiver fetches the rest'],
  ['legacy', 'Legacy: {"event", "occurred_at", "data"}'],
  ['template', 'Template: your own JSON, written per event'],
];

const EXAMPLE = '{"text": {{jsonStr (printf "%s: %s" .type .data.task.title)}}}';

// payloadGroup builds the payload fieldset from the endpoint's payload
// (null on create); body() is the request's "payload" object.
export function payloadGroup(cur) {
  const p = cur || { shape: 'full' };
  const shape = h('select', { id: 'f-payload-shape' },
    SHAPES.map(([val, label]) => h('option', { value: val, selected: val === (p.shape || 'full') }, label)));
  const template = h('textarea', { id: 'f-payload-template', rows: 8, maxlength: 16384, spellcheck: 'false', autocomplete: 'off', placeholder: EXAMPLE },
    p.template || '');
  const templateField = field('payload.template', 'Template', template,
    'A Go text/template run on each event’s .type, .eventId, .tenantId, .createdUtc and .data; json and jsonStr encode a value. It must write one JSON value.');
  const show = () => { templateField.hidden = shape.value !== 'template'; };
  show();
  shape.addEventListener('change', show);
  const group = h('fieldset', { class: 'field', 'data-field': 'payload', id: 'payload' },
    h('legend', {}, 'Payload'),
    h('p', { class: 'field-error', id: 'err-payload' }),
    field('payload.shape', 'Body of each request', shape),
    templateField);
  group.body = () => shape.value === 'template' ? { shape: 'template', template: template.value } : { shape: shape.value };
  return group;
}

// The body's shape: the event as published, its ids only, the older
// receivers' legacy body, or the endpoint's own template. A template is checked by
// the API on save; its syntax errors come back naming payload.template.
// The first choice follows the application's shape, and is what a new
// endpoint starts with.

import { h, field } from './dom.js';
import { whose } from './dialect.js';

const SHAPES = [
  ['full', 'Full event: the envelope as published (an array of them in a batch)'],
  ['thin', 'Thin: type, ids and time only; your receiver fetches the rest'],
  ['legacy', 'Legacy: {"event", "occurred_at", "data"}'],
  ['template', 'Template: your own JSON, written per event'],
];
const SHORT = { full: 'full event', thin: 'thin', legacy: 'legacy', template: 'template' };

const EXAMPLE = '{"text": {{jsonStr (printf "%s: %s" .type .data.task.title)}}}';

const shapeOf = (p) => (p && p.shape) || 'full';
const same = (a, b) => shapeOf(a) === shapeOf(b) && ((a && a.template) || '') === ((b && b.template) || '');

// payloadGroup builds the payload fieldset from the endpoint view (null
// on create) and its application. body() is the request's "payload"
// object, undefined when the user changed nothing; setApp(app) follows
// another application's default.
export function payloadGroup(ep, app) {
  const own = ep && !same(ep.payload, app.dialect.payload) ? ep.payload : null;
  const first = own ? shapeOf(own) : '';
  const firstTemplate = (own && own.template) || '';
  const shape = h('select', { id: 'f-payload-shape' },
    h('option', { value: '' }),
    SHAPES.map(([val, label]) => h('option', { value: val }, label)));
  shape.value = first;
  const template = h('textarea', { id: 'f-payload-template', rows: 8, maxlength: 16384, spellcheck: 'false', autocomplete: 'off', placeholder: EXAMPLE },
    firstTemplate);
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
  group.controls = [shape, template];
  group.setApp = (a) => { shape.options[0].textContent = `Follow ${whose(a)} default: ${SHORT[shapeOf(a.dialect.payload)]}`; };
  group.setApp(app);
  group.body = () => {
    if (shape.value === first && (first !== 'template' || template.value === firstTemplate)) return undefined;
    // An empty payload object follows the application's shape.
    if (shape.value === '') return {};
    return shape.value === 'template' ? { shape: 'template', template: template.value } : { shape: shape.value };
  };
  return group;
}

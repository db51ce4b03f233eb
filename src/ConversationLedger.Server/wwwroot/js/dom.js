// Small DOM helpers: elements built with text (never HTML strings), announcements for screen readers, dialogs.
import { ProblemError } from './api.js';

export const $ = (selector, root = document) => root.querySelector(selector);
export const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];

/** An element: `h('button', { class: 'x', onclick }, 'text', child …)`. Strings become text nodes. */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') element.addEventListener(name.slice(2), value);
    else if (name === 'dataset') Object.assign(element.dataset, value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** Says `text` to screen readers (a polite live region). */
export function announce(text) {
  const region = $('#announce');
  region.textContent = '';
  setTimeout(() => { region.textContent = text; }, 30);
}

/** The one-line reason of an error, as the page shows it. */
export function reason(error) {
  if (error instanceof ProblemError) {
    const p = error.problem;
    const detail = p.detail && p.detail !== p.title ? `: ${p.detail}` : '';
    return `${p.title ?? 'Error'}${detail}`;
  }
  return error?.message ?? String(error);
}

/**
 * Shows a problem in a form: the field it names is marked invalid with the reason beside it, anything else in the
 * form's general error line.
 */
export function showFormProblem(form, error) {
  clearFormProblems(form);
  const field = error instanceof ProblemError ? error.problem.field ?? '' : '';
  const slot = $(`.field-error[data-for="${CSS.escape(field)}"]`, form) ?? $('.field-error[data-for=""]', form);
  if (slot) slot.textContent = reason(error);
  const input = field ? form.elements.namedItem(field === 'text' ? 'system' : field) : null;
  if (input instanceof HTMLElement) {
    input.setAttribute('aria-invalid', 'true');
    input.focus();
  }
}

export function clearFormProblems(form) {
  for (const slot of $$('.field-error', form)) slot.textContent = '';
  for (const input of $$('[aria-invalid]', form)) input.removeAttribute('aria-invalid');
}

/** Asks to confirm an action that cannot be undone; resolves true when confirmed. */
export function confirmAction(title, text, action) {
  const dialog = $('#confirm-dialog');
  $('#confirm-title').textContent = title;
  $('#confirm-text').textContent = text;
  $('#confirm-ok').textContent = action;
  dialog.returnValue = '';
  dialog.showModal();
  return new Promise(resolve => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
  });
}

/** Wires the "Cancel" buttons of every dialog. */
export function wireDialogs() {
  for (const button of $$('dialog [data-close]')) {
    button.addEventListener('click', () => button.closest('dialog').close('cancel'));
  }
}

/** Downloads `blob` as `name`. */
export function download(blob, name) {
  const url = URL.createObjectURL(blob);
  const link = h('a', { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

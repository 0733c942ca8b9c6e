import { z } from "zod";
import { PASSWORD_MAX, PASSWORD_MIN } from "../../accounts/limits";
import { PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX } from "../../db/paging";
import {
  MAX_PERMISSION_NAME_LENGTH,
  MAX_PROJECT_KEY_LENGTH,
  TOKEN_DESCRIPTION_MAX,
  TOKEN_NAME_MAX,
} from "../../limits";

// Field shapes shared by the management routes. Names are text: any characters but control and
// format ones (bidi overrides such as U+202E, zero-width characters), which would let a name
// display as something it is not; stored and returned as given (HTML is inert in a JSON answer).

const NO_CONTROL_OR_FORMAT_CHARS = /^[^\p{Cc}\p{Cf}]*$/u;
// A description may break lines and indent; nothing else invisible.
const NO_CONTROL_OR_FORMAT_CHARS_BUT_LAYOUT = /^(?:[\t\n\r]|[^\p{Cc}\p{Cf}])*$/u;

export const nameField = z
  .string()
  .trim()
  .min(1, "must not be empty")
  .max(TOKEN_NAME_MAX, `must be at most ${TOKEN_NAME_MAX} characters`)
  .regex(NO_CONTROL_OR_FORMAT_CHARS, "must not contain control or format characters");

export const descriptionField = z
  .string()
  .max(TOKEN_DESCRIPTION_MAX, `must be at most ${TOKEN_DESCRIPTION_MAX} characters`)
  .regex(
    NO_CONTROL_OR_FORMAT_CHARS_BUT_LAYOUT,
    "must not contain control or format characters other than line breaks and tabs",
  );

export const slugField = z
  .string()
  .regex(
    /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/,
    "must be 1-64 lowercase letters, digits or hyphens, not starting or ending with a hyphen",
  );

export const projectKeyField = z
  .string()
  .max(MAX_PROJECT_KEY_LENGTH, `must be at most ${MAX_PROJECT_KEY_LENGTH} characters`)
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._:-]*$/,
    "must be letters, digits, '.', '_', ':' or '-', starting with a letter or digit",
  );

export const permissionNameField = z
  .string()
  .max(MAX_PERMISSION_NAME_LENGTH, `must be at most ${MAX_PERMISSION_NAME_LENGTH} characters`)
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9:._-]*$/,
    "must be letters, digits, ':', '.', '_' or '-', starting with a letter or digit",
  );

export const emailField = z.email("must be an email address").max(254);

export const passwordField = z
  .string()
  .min(PASSWORD_MIN, `must be at least ${PASSWORD_MIN} characters`)
  .max(PASSWORD_MAX, `must be at most ${PASSWORD_MAX} characters`);

/** Login and confirmation take whatever was typed: the length rules are for choosing a password. */
export const typedPassword = z.string().min(1, "is required").max(PASSWORD_MAX);

export const pageQuery = {
  cursor: z.string().max(500).optional(),
  limit: z.coerce.number().int().min(1).max(PAGE_SIZE_MAX).default(PAGE_SIZE_DEFAULT),
};

export const isoDate = z.iso.datetime({
  offset: true,
  message: "must be an ISO 8601 date-time, e.g. 2027-01-31T00:00:00Z",
});

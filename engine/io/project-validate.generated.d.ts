/** Types of project-validate.generated.js, Ajv's standalone validator for project-schema.json (npm run schema). */

/** One schema violation, as Ajv reports it. */
export interface SchemaError {
  /** JSON pointer to the offending value ('' for the whole document). */
  instancePath: string;
  schemaPath: string;
  keyword: string;
  params: Record<string, unknown>;
  message?: string;
}

export interface SchemaValidator {
  (data: unknown): boolean;
  /** The violations found by the last call, or null when it passed. */
  errors: SchemaError[] | null;
}

export declare const validate: SchemaValidator;
export default validate;

/**
 * The CSV record reader: RFC 4180 over text that arrives in chunks (a file read piece by piece), so that a big file
 * never has to sit in memory as one string. Fields are separated by commas, records by CRLF, LF or a lone CR; a
 * field in double quotes may hold commas, line breaks and `""` for a quote. A leading BOM is dropped, and so are
 * blank lines (as pandas does). A quote inside an unquoted field is taken literally.
 *
 * Broken quoting does not stop the reader: text after a closing quote is kept as part of the cell and the record
 * carries a `problem`; a quoted field still open at the end of the text ends the last record with a problem. The
 * caller decides whether a problem is an error or a row to skip (csv-scan.ts).
 */

export interface CsvProblem {
  message: string;
  /** 1-based line of the file where it is. */
  line: number;
  /** 0-based index of the cell it is in. */
  cell: number;
}

export interface CsvRecord {
  cells: string[];
  /** 1-based line of the file where the record starts (a quoted line break makes a record span lines). */
  line: number;
  problem?: CsvProblem;
}

const QUOTE = 0x22;
const COMMA = 0x2c;
const LF = 0x0a;
const CR = 0x0d;

const enum State {
  /** At the start of a field. */
  Start,
  /** In an unquoted field. */
  Unquoted,
  /** In a quoted field. */
  Quoted,
  /** In a quoted field, just after a quote: a `""` escape or the closing quote. */
  QuoteSeen,
  /** After a closing quote that other text follows (a problem): the rest of the cell is kept as it is. */
  AfterClose,
}

export class CsvRecordReader {
  private state = State.Start;
  private field = '';
  private cells: string[] = [];
  private problem: CsvProblem | undefined;
  /** Whether the current field started with a quote (then an empty record is not a blank line). */
  private quoted = false;
  private line = 1;
  private recordLine = 1;
  private openLine = 1;
  /** The last character seen was a CR, so an LF right after it is part of the same line break. */
  private afterCR = false;
  private started = false;

  constructor(private readonly onRecord: (record: CsvRecord) => void) {}

  /** Reads the next piece of the text. */
  push(text: string): void {
    let i = 0;
    if (!this.started && text.length > 0) {
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) i = 1;
    }
    const n = text.length;
    while (i < n) {
      const c = text.charCodeAt(i);
      if (this.afterCR) {
        this.afterCR = false;
        if (c === LF) {
          // A CR then an LF: one line break, already counted (in quotes, kept in the field).
          if (this.state === State.Quoted) this.field += '\n';
          i++;
          continue;
        }
      }
      switch (this.state) {
        case State.Start:
          if (c === QUOTE) {
            this.state = State.Quoted;
            this.quoted = true;
            this.openLine = this.line;
            i++;
          } else this.state = State.Unquoted;
          break;
        case State.Unquoted:
        case State.AfterClose: {
          let j = i;
          while (j < n) {
            const d = text.charCodeAt(j);
            if (d === COMMA || d === LF || d === CR) break;
            j++;
          }
          this.field += text.slice(i, j);
          i = j;
          if (j < n) {
            this.delimiter(text.charCodeAt(j));
            i++;
          }
          break;
        }
        case State.Quoted: {
          let j = i;
          while (j < n) {
            const d = text.charCodeAt(j);
            if (d === QUOTE) break;
            if (d === LF) this.line++;
            else if (d === CR) {
              this.line++;
              if (j + 1 === n) this.afterCR = true;
              else if (text.charCodeAt(j + 1) === LF) j++;
            }
            j++;
          }
          this.field += text.slice(i, j);
          i = j;
          if (j < n) {
            this.state = State.QuoteSeen;
            i++;
          }
          break;
        }
        case State.QuoteSeen:
          if (c === QUOTE) {
            this.field += '"';
            this.state = State.Quoted;
            i++;
          } else if (c === COMMA || c === LF || c === CR) {
            this.delimiter(c);
            i++;
          } else {
            const opened = this.openLine === this.line ? '' : ` (the quoted field opened on line ${this.openLine})`;
            this.problem ??= { message: `unexpected ${JSON.stringify(text[i])} after a closing quote${opened}`, line: this.line, cell: this.cells.length };
            this.state = State.AfterClose;
          }
          break;
      }
    }
  }

  /** The text is over: the last record (if any) is read. */
  end(): void {
    if (this.state === State.Quoted) {
      this.problem ??= { message: `a quoted field opened on line ${this.openLine} is never closed`, line: this.openLine, cell: this.cells.length };
    }
    if (this.state !== State.Start || this.cells.length > 0) this.endRecord();
  }

  /** A comma ends the field; a line break ends the field and the record. */
  private delimiter(c: number): void {
    if (c === COMMA) {
      this.cells.push(this.field);
      this.field = '';
      this.state = State.Start;
      return;
    }
    this.endRecord();
    this.line++;
    this.recordLine = this.line;
    if (c === CR) this.afterCR = true;
  }

  private endRecord(): void {
    this.cells.push(this.field);
    const blank = this.cells.length === 1 && this.cells[0] === '' && !this.quoted && !this.problem;
    if (!blank) this.onRecord({ cells: this.cells, line: this.recordLine, ...(this.problem ? { problem: this.problem } : {}) });
    this.cells = [];
    this.field = '';
    this.problem = undefined;
    this.quoted = false;
    this.state = State.Start;
  }
}

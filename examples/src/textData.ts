import { DataFormatError, InvalidUtf8Lines, readLines } from "@revela/text-data";

const invalid = new InvalidUtf8Lines("corpus.jsonl");
for await (const line of readLines("corpus.jsonl")) {
  invalid.add(line);
  if (line.text.trim() === "") continue;
  try {
    JSON.parse(line.text);
  } catch {
    throw new DataFormatError("corpus.jsonl", line.line, "not valid JSON");
  }
}
console.log(invalid.warning()); // "corpus.jsonl:2: invalid UTF-8 on 1 line(s) (2); …", or null

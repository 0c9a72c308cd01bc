#!/usr/bin/env python3
"""Generates the Kafka message codecs (messages.h, messages.cc) from kafka/protocol/schemas/.

The schema files are Rill's own description of each API (docs/kafka.md, "Message schemas"):

    api Metadata key=3 versions=1-12 flexible=9 advertise=0
    request MetadataRequest
      topics []MetadataRequestTopic nullable=1+
        name string nullable=10+
      allow_auto_topic_creation bool 4+ default=true
    response MetadataResponse
      ...

A field line is `name type [versions] [nullable=versions] [default=value]`, children indented by
two spaces under a struct array. Versions are `N+`, `N-M` or `N`; a field without them is in every
version. Types: int8, int16, int32, int64, uint16, float64, bool, uuid, string, bytes, records,
[]int32, []int64, []string, and []StructName with children.

Every struct ends with a tagged-field section in flexible versions; unknown tagged fields are
skipped when read and none are written.
"""
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional

SCALARS = {
    "int8": ("int8_t", "Int8", 1, "0"),
    "int16": ("int16_t", "Int16", 2, "0"),
    "int32": ("int32_t", "Int32", 4, "0"),
    "int64": ("int64_t", "Int64", 8, "0"),
    "uint16": ("uint16_t", "Uint16", 2, "0"),
    "float64": ("double", "Float64", 8, "0"),
    "bool": ("bool", "Bool", 1, "false"),
    "uuid": ("Uuid", "Uuid", 16, "{}"),
}
STRINGS = {"string": False, "bytes": True, "records": True}
MAX_VERSION = 0x7FFF


class SchemaError(Exception):
    pass


def parse_versions(text: str, where: str):
    m = re.fullmatch(r"(\d+)(\+|-(\d+))?", text)
    if not m:
        raise SchemaError(f"{where}: bad versions '{text}'")
    low = int(m.group(1))
    if m.group(2) == "+":
        return (low, MAX_VERSION)
    if m.group(3) is not None:
        return (low, int(m.group(3)))
    return (low, low)


@dataclass
class Field:
    name: str
    type: str
    versions: tuple
    nullable: Optional[tuple]
    default: Optional[str]
    children: List["Field"] = field(default_factory=list)

    @property
    def is_array(self):
        return self.type.startswith("[]")

    @property
    def element(self):
        return self.type[2:]

    @property
    def is_struct_array(self):
        return self.is_array and self.element not in SCALARS and self.element not in STRINGS


@dataclass
class Struct:
    name: str
    fields: List[Field]


@dataclass
class Api:
    name: str
    key: int
    versions: tuple
    flexible: int
    advertise: int
    request: Optional[Struct] = None
    response: Optional[Struct] = None


def parse(path: Path) -> Api:
    api = None
    stack = []  # (indent, list of fields)
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        where = f"{path.name}:{number}"
        line = raw.split("#", 1)[0].rstrip()
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip(" "))
        words = line.split()
        if words[0] == "api":
            attrs = dict(w.split("=", 1) for w in words[2:])
            versions = parse_versions(attrs["versions"], where)
            api = Api(words[1], int(attrs["key"]), versions, int(attrs["flexible"]),
                      int(attrs.get("advertise", versions[0])))
            continue
        if words[0] in ("request", "response"):
            if api is None:
                raise SchemaError(f"{where}: {words[0]} before api")
            struct = Struct(words[1], [])
            setattr(api, words[0], struct)
            stack = [(0, struct.fields)]
            continue
        if not stack or indent % 2 or indent == 0:
            raise SchemaError(f"{where}: a field outside a request or response")
        while stack and stack[-1][0] >= indent:
            stack.pop()
        if not stack or stack[-1][0] != indent - 2:
            raise SchemaError(f"{where}: bad indentation")
        name, type_ = words[0], words[1]
        versions, nullable, default = (0, MAX_VERSION), None, None
        for word in words[2:]:
            if word.startswith("nullable="):
                nullable = parse_versions(word[len("nullable="):], where)
            elif word.startswith("default="):
                default = word[len("default="):]
            else:
                versions = parse_versions(word, where)
        f = Field(name, type_, versions, nullable, default)
        if not (f.is_array or type_ in SCALARS or type_ in STRINGS):
            raise SchemaError(f"{where}: unknown type '{type_}'")
        stack[-1][1].append(f)
        stack.append((indent, f.children))
    for f_list in (api.request.fields, api.response.fields):
        check_children(f_list, path.name)
    return api


def check_children(fields, where):
    for f in fields:
        if f.is_struct_array and not f.children:
            raise SchemaError(f"{where}: {f.name} has no fields")
        if not f.is_struct_array and f.children:
            raise SchemaError(f"{where}: {f.name} is not a struct array but has fields")
        check_children(f.children, where)


def structs_of(struct: Struct) -> List[Struct]:
    """Nested structs first, so every struct is declared before it is used."""
    out = []
    for f in struct.fields:
        if f.is_struct_array:
            out += structs_of(Struct(f.element, f.children))
    out.append(struct)
    return out


def cpp_element(type_: str) -> str:
    if type_ in SCALARS:
        return SCALARS[type_][0]
    if type_ in STRINGS:
        return "std::string"
    return type_


def may_be_null(f: Field) -> bool:
    return f.nullable is not None


def cpp_type(f: Field) -> str:
    base = f"std::vector<{cpp_element(f.element)}>" if f.is_array else cpp_element(f.type)
    return f"std::optional<{base}>" if may_be_null(f) else base


def cpp_default(f: Field) -> str:
    if f.default is None:
        if f.type in SCALARS and not may_be_null(f):
            return SCALARS[f.type][3]
        return None
    if f.default == "null":
        return "std::nullopt"
    if f.type == "string":
        return f'"{f.default}"'
    return f.default


def in_range(rng, var="version") -> str:
    low, high = rng
    if low == 0 and high == MAX_VERSION:
        return "true"
    if high == MAX_VERSION:
        return f"{var} >= {low}"
    if low == high:
        return f"{var} == {low}"
    if low == 0:
        return f"{var} <= {high}"
    return f"{var} >= {low} && {var} <= {high}"


def element_bytes_min(type_: str) -> int:
    if type_ in SCALARS:
        return SCALARS[type_][2]
    return 1


def scalar_method(type_: str, prefix: str) -> str:
    """WireReader's (prefix "Read") or WireWriter's ("Write") method for a scalar type."""
    return prefix + "Uuid" if type_ == "uuid" else SCALARS[type_][1]


def string_method(type_: str) -> str:
    """The WireReader and WireWriter method for a string-like type; "Nullable" + it reads and
    writes the nullable form."""
    return "Bytes" if STRINGS[type_] else "String"


def read_value(type_: str, target: str) -> List[str]:
    if type_ in SCALARS:
        return [f"{target} = r.{scalar_method(type_, 'Read')}();"]
    if type_ in STRINGS:
        return [f"{target} = std::string(r.{string_method(type_)}(flexible));"]
    return [f"{target}.Read(r, version);"]


def write_value(type_: str, value: str) -> List[str]:
    if type_ in SCALARS:
        return [f"w.{scalar_method(type_, 'Write')}({value});"]
    if type_ in STRINGS:
        return [f"w.{string_method(type_)}({value}, flexible);"]
    return [f"{value}.Write(w, version);"]


def read_field(f: Field) -> List[str]:
    nullable = in_range(f.nullable) if f.nullable else "false"
    if f.is_array:
        lines = [f"const int32_t count = r.ArrayLength(flexible, {element_bytes_min(f.element)}, "
                 f"{nullable});"]
        if may_be_null(f):
            lines += [f"if (count < 0) {{", f"  {f.name}.reset();", "} else {",
                      f"  auto& items = {f.name}.emplace();"]
        else:
            lines += ["{", f"  auto& items = {f.name};"]
        lines += ["  items.reserve(static_cast<size_t>(count));",
                  "  for (int32_t i = 0; i < count && r.ok(); ++i) {",
                  "    auto& item = items.emplace_back();"]
        lines += ["    " + l for l in read_value(f.element, "item")]
        lines += ["  }", "}"]
        return lines
    if f.type in STRINGS and may_be_null(f):
        plain = string_method(f.type)
        return [f"if ({nullable}) {{",
                f"  const auto read = r.Nullable{plain}(flexible);",
                f"  if (read) {{",
                f"    {f.name} = std::string(*read);",
                "  } else {",
                f"    {f.name}.reset();",
                "  }",
                "} else {",
                f"  {f.name} = std::string(r.{plain}(flexible));",
                "}"]
    return read_value(f.type, f.name)


def write_field(f: Field) -> List[str]:
    nullable = in_range(f.nullable) if f.nullable else "false"
    if f.is_array:
        if may_be_null(f):
            lines = [f"if (!{f.name}.has_value()) {{",
                     f"  w.ArrayLength({nullable} ? -1 : 0, flexible);",
                     "} else {",
                     f"  const auto& items = *{f.name};"]
        else:
            lines = ["{", f"  const auto& items = {f.name};"]
        lines += ["  w.ArrayLength(static_cast<int32_t>(items.size()), flexible);",
                  "  for (const auto& item : items) {"]
        lines += ["    " + l for l in write_value(f.element, "item")]
        lines += ["  }", "}"]
        return lines
    if f.type in STRINGS and may_be_null(f):
        plain = string_method(f.type)
        return [f"if ({nullable}) {{",
                f"  w.Nullable{plain}({f.name} ? std::optional<std::string_view>(*{f.name}) "
                f": std::nullopt, flexible);",
                "} else {",
                f"  w.{plain}({f.name}.value_or(std::string()), flexible);",
                "}"]
    return write_value(f.type, f.name)


def guarded(f: Field, body: List[str]) -> List[str]:
    condition = in_range(f.versions)
    if condition == "true":
        return body if len(body) == 1 else ["{"] + ["  " + l for l in body] + ["}"]
    return [f"if ({condition}) {{"] + ["  " + l for l in body] + ["}"]


def emit_struct_decl(s: Struct) -> List[str]:
    lines = [f"struct {s.name} {{"]
    for f in s.fields:
        default = cpp_default(f)
        init = f" = {default}" if default is not None else ""
        lines.append(f"  {cpp_type(f)} {f.name}{init};")
    lines += ["",
              "  // Reads this struct of `version` from `r`; check r.ok() afterwards.",
              "  void Read(WireReader& r, int16_t version);",
              "  void Write(WireWriter& w, int16_t version) const;",
              "};", ""]
    return lines


def emit_struct_defs(s: Struct, api: Api) -> List[str]:
    flexible = f"const bool flexible = version >= {api.flexible};"
    lines = [f"void {s.name}::Read(WireReader& r, int16_t version) {{", f"  {flexible}"]
    for f in s.fields:
        lines += ["  " + l for l in guarded(f, read_field(f))]
    lines += ["  if (flexible) r.SkipTaggedFields();", "}", ""]
    lines += [f"void {s.name}::Write(WireWriter& w, int16_t version) const {{", f"  {flexible}"]
    for f in s.fields:
        lines += ["  " + l for l in guarded(f, write_field(f))]
    lines += ["  if (flexible) w.NoTaggedFields();", "}", ""]
    return lines


HEADER_PROLOGUE = """// Generated by kafka/protocol/generate.py from kafka/protocol/schemas/. Do not edit.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kafka/protocol/wire.h"

namespace rill::kafka {

// An API as its schema describes it.
struct ApiSchema {
  int16_t key;
  const char* name;
  int16_t min_version;
  int16_t max_version;
  int16_t first_flexible_version;
  // The lowest version ApiVersions advertises (see api.h).
  int16_t advertised_min_version;
};

"""


def main():
    if len(sys.argv) < 3:
        print("usage: generate.py OUT_DIR SCHEMA...", file=sys.stderr)
        return 2
    out_dir = Path(sys.argv[1])
    apis = sorted((parse(Path(p)) for p in sys.argv[2:]), key=lambda a: a.key)
    seen = set()
    header = [HEADER_PROLOGUE]
    source = ['// Generated by kafka/protocol/generate.py from kafka/protocol/schemas/. Do not edit.',
              '#include "kafka/protocol/messages.h"', "", "namespace rill::kafka {", ""]
    table = []
    for api in apis:
        low, high = api.versions
        header.append(f"// {api.name} (key {api.key}), versions {low}-{high}, "
                      f"flexible from {api.flexible}.")
        for part in (api.request, api.response):
            for s in structs_of(part):
                if s.name in seen:
                    raise SchemaError(f"{api.name}: struct {s.name} is defined twice")
                seen.add(s.name)
                header += emit_struct_decl(s)
                source += emit_struct_defs(s, api)
        table.append(f'    {{{api.key}, "{api.name}", {low}, {high}, {api.flexible}, '
                     f'{api.advertise}}},')
    header += ["// Every API with a schema, by key.",
               f"inline constexpr ApiSchema kApiSchemas[] = {{", *table, "};", "",
               "// Reads a request body of `api_key` at `version` (a key or version without a",
               "// schema is InvalidArgument): the one entry the decoder fuzzer needs for every API.",
               "absl::Status ReadRequestBody(int16_t api_key, int16_t version, WireReader& r);", "",
               "}  // namespace rill::kafka", ""]
    cases = []
    for api in apis:
        low, high = api.versions
        cases += [f"    case {api.key}: {{",
                  f"      if (version < {low} || version > {high}) break;",
                  f"      {api.request.name} message;",
                  "      message.Read(r, version);",
                  "      return r.status();",
                  "    }"]
    source += ["absl::Status ReadRequestBody(int16_t api_key, int16_t version, WireReader& r) {",
               "  switch (api_key) {", *cases, "    default:", "      break;", "  }",
               '  return absl::InvalidArgumentError("no schema for this API key and version");',
               "}", "", "}  // namespace rill::kafka", ""]
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, lines in (("messages.h", header), ("messages.cc", source)):
        text = "\n".join(lines)
        path = out_dir / name
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except SchemaError as e:
        print(f"generate.py: {e}", file=sys.stderr)
        sys.exit(1)

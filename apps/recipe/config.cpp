// Flags and YAML config files (see config.h). CLI11 splits argv into flags and values (and catches unknown
// flags, missing and repeated values); every option is registered as text and converted here, so command
// line, YAML and checkpoint values go through the same checks and messages.
#include "apps/recipe/config.h"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include <CLI/CLI.hpp>
#include <yaml-cpp/yaml.h>

namespace spk::recipe {

bool loss_uses_class_labels(const std::string& trainfunc) {
  static const std::set<std::string> s = {"softmax",      "amsoftmax",    "aamsoftmax", "adasoftmax",
                                          "arc_margin",   "softmaxproto", "infonce",    "aam_infonce",
                                          "arc_linear",   "coco",         "center",     "pyannote_softmax"};
  return s.count(trainfunc) != 0;
}

std::string flag_check::num(double v) {
  if (std::isnan(v)) return "NaN";   // not "nan" or "-nan", whichever sign the NaN has
  std::ostringstream s;
  s << v;
  return s.str();
}

void flag_check::require(bool ok, const std::string& flag, const std::string& what) {
  if (!ok) throw UsageError(flag + ": " + what);
}

struct OptionParser::Option {
  std::string name, help, group, default_text;
  OptionKind kind = OptionKind::str;
  bool accepted = true;       // on this app's command line (YAML may still carry the key)
  std::string text;           // current value as text
  OptionSource source = OptionSource::default_value;
  std::string cli_text;       // CLI11's target
  CLI::Option* cli = nullptr;
};

const char* option_source_str(OptionSource s) {
  switch (s) {
    case OptionSource::default_value: return "default";
    case OptionSource::yaml: return "config file";
    case OptionSource::checkpoint: return "checkpoint";
    case OptionSource::command_line: return "command line";
  }
  return "?";
}

int64_t parse_integer(const std::string& text, const std::string& where) {
  int64_t v = 0;
  const char* b = text.data();
  const char* e = b + text.size();
  if (!text.empty() && *b == '+') ++b;
  auto [ptr, ec] = std::from_chars(b, e, v);
  if (text.empty() || ec != std::errc() || ptr != e)
    throw UsageError(where + ": '" + text + "' is not an integer");
  return v;
}

double parse_real(const std::string& text, const std::string& where) {
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || errno == ERANGE || !std::isfinite(v))
    throw UsageError(where + ": '" + text + "' is not a finite number");
  return v;
}

bool parse_boolean(const std::string& text, const std::string& where) {
  std::string t;
  for (char c : text) t += char(std::tolower(static_cast<unsigned char>(c)));
  if (t == "" || t == "true" || t == "1" || t == "yes" || t == "on") return true;
  if (t == "false" || t == "0" || t == "no" || t == "off") return false;
  throw UsageError(where + ": '" + text + "' is not a boolean (true/false, 1/0, yes/no)");
}

namespace {

void check_kind(OptionKind kind, const std::string& text, const std::string& where) {
  switch (kind) {
    case OptionKind::str: break;
    case OptionKind::integer: parse_integer(text, where); break;
    case OptionKind::real: parse_real(text, where); break;
    case OptionKind::boolean: parse_boolean(text, where); break;
  }
}

bool valid_utf8(const std::string& s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  for (size_t i = 0; i < n;) {
    const unsigned c = p[i];
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || i + len > n) return false;
    uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] >> 6) != 0x2) return false;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are not UTF-8.
    static const uint32_t min_cp[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[len] || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return false;
    i += len;
  }
  return true;
}

const char* kind_str(OptionKind k) {
  switch (k) {
    case OptionKind::str: return "TEXT";
    case OptionKind::integer: return "INT";
    case OptionKind::real: return "REAL";
    case OptionKind::boolean: return "[BOOL]";
  }
  return "";
}

}  // namespace

OptionParser::OptionParser(std::string app, std::string description, AppMask mask)
    : app_(std::move(app)), description_(std::move(description)), mask_(mask) {
  auto add_recipe = [&](const char* name, OptionKind kind, const char* def, unsigned apps, const char* group,
                        const char* help) {
    add(name, kind, def, help, group);
    options_.back()->accepted = (apps & mask_) != 0;
  };
#define SPK_OPTION_KIND_STR OptionKind::str
#define SPK_OPTION_KIND_INT OptionKind::integer
#define SPK_OPTION_KIND_REAL OptionKind::real
#define SPK_OPTION_KIND_BOOL OptionKind::boolean
#define SPK_OPTION(name, kind, def, apps, group, help) add_recipe(#name, SPK_OPTION_KIND_##kind, def, apps, group, help);
#include "apps/recipe/options.def"
#undef SPK_OPTION
}

OptionParser::~OptionParser() = default;

void OptionParser::add(const std::string& name, OptionKind kind, const std::string& default_text,
                       const std::string& help, const std::string& group) {
  SPK_CHECK(!by_name_.count(name), "option --", name, " registered twice");
  check_kind(kind, default_text, "default of --" + name);   // a programming error if it throws
  auto o = std::make_unique<Option>();
  o->name = name;
  o->kind = kind;
  o->default_text = o->text = default_text;
  o->help = help;
  o->group = group;
  by_name_[name] = o.get();
  options_.push_back(std::move(o));
}

OptionParser::Option& OptionParser::find(const std::string& name) {
  auto it = by_name_.find(name);
  SPK_CHECK(it != by_name_.end(), "no option --", name);
  return *it->second;
}

const OptionParser::Option& OptionParser::find(const std::string& name) const {
  auto it = by_name_.find(name);
  SPK_CHECK(it != by_name_.end(), "no option --", name);
  return *it->second;
}

void OptionParser::set_text(Option& o, const std::string& text, OptionSource source, const std::string& where) {
  check_kind(o.kind, text, where);
  o.text = text;
  o.source = source;
}

bool OptionParser::parse(int argc, const char* const* argv) {
  CLI::App cli{description_, app_};
  cli.set_help_flag("-h,--help", "print this help and exit");
  std::string config;
  cli.add_option("--config", config, "YAML file of option: value lines; flags given here win over it")
      ->group("Config");
  for (auto& o : options_) {
    if (!o->accepted) continue;
    // Booleans take an optional value (--augment alone means true). CLI11 would substitute a default_str for
    // the missing value, so their default goes into the help text instead.
    const bool flag = o->kind == OptionKind::boolean;
    CLI::Option* opt = cli.add_option("--" + o->name, o->cli_text, flag ? o->help + " [" + o->default_text + "]" : o->help);
    opt->group(o->group)->type_name(kind_str(o->kind));
    opt->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);   // as argparse: a repeated flag, the last wins
    if (flag) opt->expected(0, 1);
    else if (!o->default_text.empty()) opt->default_str(o->default_text);
    o->cli = opt;
  }
  try {
    cli.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << cli.help();
    return false;
  } catch (const CLI::ParseError& e) {
    throw UsageError(e.what());
  }
  for (auto& o : options_) {
    if (!o->cli || o->cli->count() == 0) continue;
    set_text(*o, o->cli_text, OptionSource::command_line, "--" + o->name);
  }
  if (!config.empty()) read_yaml(config);
  return true;
}

// A flat mapping of scalars. Keys of the recipe options another app accepts are taken (a recipe file serves
// spk_train and spk_eval); anything else is an error at the key's line.
void OptionParser::read_yaml(const std::string& path) {
  config_path_ = path;
  std::ifstream f(path);
  if (!f) throw UsageError("--config: cannot open '" + path + "'");
  YAML::Node root;
  try {
    root = YAML::Load(f);
  } catch (const YAML::Exception& e) {
    throw UsageError(path + ":" + std::to_string(e.mark.line + 1) + ": not valid YAML: " + e.msg);
  }
  if (root.IsNull()) return;   // an empty file sets nothing
  if (!root.IsMap()) throw UsageError(path + ": expected a mapping of option: value lines");
  for (const auto& kv : root) {
    const std::string at = path + ":" + std::to_string(kv.first.Mark().line + 1);
    if (!kv.first.IsScalar()) throw UsageError(at + ": keys must be option names");
    const std::string key = kv.first.Scalar();
    // YAML is Unicode text; yaml-cpp passes other bytes through, but a run's effective config (to_yaml) could
    // not write them back (tests/fuzz/regressions/config_yaml/).
    if (!valid_utf8(key) || (kv.second.IsScalar() && !valid_utf8(kv.second.Scalar())))
      throw UsageError(at + ": not valid UTF-8 text");
    auto it = by_name_.find(key);
    if (it == by_name_.end())
      throw UsageError(at + ": unknown option '" + key + "' (see " + app_ + " --help for the names)");
    Option& o = *it->second;
    const std::string where = at + ": " + key;
    std::string text;
    if (kv.second.IsNull()) {
      if (o.kind != OptionKind::str) throw UsageError(where + ": needs a value");
    } else if (kv.second.IsScalar()) {
      text = kv.second.Scalar();
    } else {
      throw UsageError(where + ": expected a single value, not a list or mapping");
    }
    if (o.source == OptionSource::command_line) {   // the command line wins, but the file must still be valid
      check_kind(o.kind, text, where);
      continue;
    }
    set_text(o, text, OptionSource::yaml, where);
  }
}

void OptionParser::apply_defaults_from(const nlohmann::json& values, OptionSource source, const std::string& origin) {
  if (!values.is_object()) return;
  for (auto& [key, v] : values.items()) {
    auto it = by_name_.find(key);
    if (it == by_name_.end()) continue;
    Option& o = *it->second;
    if (o.source == OptionSource::command_line || o.source == OptionSource::yaml) continue;
    std::string text;
    if (v.is_string()) text = v.get<std::string>();
    else if (v.is_boolean()) text = v.get<bool>() ? "true" : "false";
    else if (v.is_number_integer()) text = std::to_string(v.get<int64_t>());
    else if (v.is_number()) {
      std::ostringstream s;
      s.precision(17);
      s << v.get<double>();
      text = s.str();
    } else continue;
    set_text(o, text, source,
             std::string(option_source_str(source)) + (origin.empty() ? "" : " " + origin) + " value of " + key);
  }
}

bool OptionParser::has(const std::string& name) const { return by_name_.count(name) != 0; }
std::string OptionParser::str(const std::string& name) const { return find(name).text; }
int64_t OptionParser::integer(const std::string& name) const {
  const Option& o = find(name);
  return parse_integer(o.text, "--" + name);
}
double OptionParser::real(const std::string& name) const { return parse_real(find(name).text, "--" + name); }
bool OptionParser::boolean(const std::string& name) const { return parse_boolean(find(name).text, "--" + name); }
OptionSource OptionParser::source(const std::string& name) const { return find(name).source; }

nlohmann::json OptionParser::values() const {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& o : options_) {
    if (!o->accepted) continue;
    switch (o->kind) {
      case OptionKind::str: j[o->name] = o->text; break;
      case OptionKind::integer: j[o->name] = integer(o->name); break;
      case OptionKind::real: j[o->name] = real(o->name); break;
      case OptionKind::boolean: j[o->name] = boolean(o->name); break;
    }
  }
  return j;
}

std::string OptionParser::to_yaml() const {
  YAML::Emitter out;
  out << YAML::BeginMap;
  for (const auto& o : options_) {
    if (!o->accepted) continue;
    out << YAML::Key << o->name << YAML::Value;
    switch (o->kind) {
      case OptionKind::str: out << YAML::DoubleQuoted << o->text; break;
      case OptionKind::integer: out << integer(o->name); break;
      case OptionKind::real: out << YAML::Precision(17) << real(o->name); break;
      case OptionKind::boolean: out << boolean(o->name); break;
    }
  }
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

RecipeConfig recipe_config(const OptionParser& p) {
  RecipeConfig c;
#define SPK_OPTION_GET_STR(n) p.str(#n)
#define SPK_OPTION_GET_INT(n) p.integer(#n)
#define SPK_OPTION_GET_REAL(n) p.real(#n)
#define SPK_OPTION_GET_BOOL(n) p.boolean(#n)
#define SPK_OPTION(name, kind, def, apps, group, help) c.name = SPK_OPTION_GET_##kind(name);
#include "apps/recipe/options.def"
#undef SPK_OPTION
  // --encoder_type defaults to voxceleb_trainer's SAP, which only its own models have; the others get their
  // own pooling unless the flag is set.
  if (p.source("encoder_type") == OptionSource::default_value &&
      (c.model == "ECAPA_TDNN" || c.model == "ResNet34" || c.model == "TDNN" ||
       c.model == "ECAPA_TDNN_HardNeg" || c.model == "ResNet18" || c.model == "ResNet50" || c.model == "ResNet101" ||
       c.model == "ResNet152" || c.model == "ResNet221" || c.model == "ResNet293" || c.model == "ResNet18_HardNeg" ||
       c.model == "ResNet34_HardNeg" ||
       c.model == "SincTDNN" || c.model == "RawNet3"))
    c.encoder_type = "";
  // pyannote's sampler gives the loss --per_label crops per speaker (--nPerSpeaker is ignored with it): every
  // consumer of the config (trainer, loss checks, configs test) sees the same M.
  if (c.sampler == "pyannote") c.nPerSpeaker = c.per_label;
  return c;
}

}  // namespace spk::recipe

// Command-line flags and YAML config files for spk_train and spk_eval.
//
// The recipe options (options.def) are spelt as voxceleb_trainer's flags; each app may add its own. Every
// value, from any source, is text converted by one function per kind, so a bad value reads the same whether
// it came from the command line or a file.
//
// Precedence (docs/recipes.md): a flag given on the command line wins over the same key in the --config
// YAML file, which wins over the default. voxceleb_trainer does the opposite (its YAML overrides the
// command line); we follow the usual convention so that `--config recipe.yaml --lr 0.01` means what it says.
//
// Errors: an unknown flag, a missing or repeated value, a value of the wrong kind, an unknown YAML key, a
// YAML value that is not a scalar: UsageError naming the flag, or the file and line of the key. Range and
// consistency checks live next to the code that uses the values (validate_train_config, ...).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/check.h"

namespace spk::recipe {

// A mistake in how the program was called (flags, config file, inconsistent settings). The apps print it as
// "<app>: error: <message>" and exit with status 2.
class UsageError : public spk::Error {
 public:
  explicit UsageError(const std::string& message) : spk::Error(message) {}
};

// The flag checks' two helpers (train_config_check.cpp, loss_settings_check.cpp, spec_aug_flags.cpp):
// num(v) prints v as the user would write it; require throws UsageError("<flag>: <what>") unless ok.
namespace flag_check {
std::string num(double v);
void require(bool ok, const std::string& flag, const std::string& what);
}  // namespace flag_check

// Whether the loss --trainfunc NAME trains a classifier over nClasses speakers, so needs speaker labels and an
// --nClasses that covers the training list.
bool loss_uses_class_labels(const std::string& trainfunc);

enum class OptionKind { str, integer, real, boolean };
enum class OptionSource { default_value, yaml, checkpoint, command_line };
const char* option_source_str(OptionSource s);

enum AppMask : unsigned { TRAIN = 1, EVAL = 2, BOTH = 3 };

class OptionParser {
 public:
  // app: the program name for messages and --help; mask: TRAIN or EVAL, which recipe options it accepts.
  OptionParser(std::string app, std::string description, AppMask mask);
  ~OptionParser();
  OptionParser(const OptionParser&) = delete;
  OptionParser& operator=(const OptionParser&) = delete;

  // An app-specific option (not a YAML key of the recipe unless the app reads one).
  void add(const std::string& name, OptionKind kind, const std::string& default_text, const std::string& help,
           const std::string& group = "Other");

  // Parses argv, then the --config file if one was given. Returns false when --help was asked for (the help
  // text has been printed to stdout); throws UsageError on any mistake.
  bool parse(int argc, const char* const* argv);

  // Fills options that neither the command line nor the YAML set (e.g. from a checkpoint's saved config).
  // Values are checked like any other; unknown keys are ignored (they may come from a newer version). `origin`
  // (e.g. the checkpoint's path) goes into the message of a bad value.
  void apply_defaults_from(const nlohmann::json& values, OptionSource source, const std::string& origin = "");

  bool has(const std::string& name) const;
  std::string str(const std::string& name) const;
  int64_t integer(const std::string& name) const;
  double real(const std::string& name) const;
  bool boolean(const std::string& name) const;
  OptionSource source(const std::string& name) const;
  bool given(const std::string& name) const { return source(name) == OptionSource::command_line; }

  // Every option this app accepts -> its value as a JSON string/number/bool, for logs and checkpoints.
  nlohmann::json values() const;
  // The same as a YAML document (the effective config of a run, loadable with --config).
  std::string to_yaml() const;
  const std::string& app() const { return app_; }
  const std::string& config_path() const { return config_path_; }

 private:
  struct Option;
  Option& find(const std::string& name);
  const Option& find(const std::string& name) const;
  void set_text(Option& o, const std::string& text, OptionSource source, const std::string& where);
  void read_yaml(const std::string& path);

  std::string app_, description_;
  AppMask mask_;
  std::vector<std::unique_ptr<Option>> options_;   // registration order (help and dumps)
  std::map<std::string, Option*> by_name_;
  std::string config_path_;
};

// Conversions shared by every source; `where` names the origin ("--lr", "configs/x.yaml:3: lr").
int64_t parse_integer(const std::string& text, const std::string& where);
double parse_real(const std::string& text, const std::string& where);
bool parse_boolean(const std::string& text, const std::string& where);

// The recipe options as typed fields (one per options.def row).
struct RecipeConfig {
#define SPK_OPTION_FIELD_STR std::string
#define SPK_OPTION_FIELD_INT int64_t
#define SPK_OPTION_FIELD_REAL double
#define SPK_OPTION_FIELD_BOOL bool
#define SPK_OPTION(name, kind, def, apps, group, help) SPK_OPTION_FIELD_##kind name{};
#include "apps/recipe/options.def"
#undef SPK_OPTION
};

// The recipe fields from a parsed OptionParser (options the app does not accept keep their defaults).
RecipeConfig recipe_config(const OptionParser& p);

}  // namespace spk::recipe

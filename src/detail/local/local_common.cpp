// Helpers shared by the whole local store (local_common.hpp).
#include "detail/local/local_common.hpp"

#include <fmt/format.h>

#include <cctype>
#include <random>

#include "detail/local/database.hpp"
#include "mlflowpp/error.hpp"

namespace mlflowpp::detail::local {

namespace {

// mlflow/utils/name_utils.py, lower-cased.
const char* const kNouns[] = {
    "ant",   "ape",   "asp",    "auk",    "bass",   "bat",      "bear",   "bee",     "bird",   "boar",
    "bug",   "calf",  "carp",   "cat",    "chimp",  "cod",      "colt",   "conch",   "cow",    "crab",
    "crane", "croc",  "crow",   "cub",    "deer",   "doe",      "dog",    "dolphin", "donkey", "dove",
    "duck",  "eel",   "elk",    "fawn",   "finch",  "fish",     "flea",   "fly",     "foal",   "fowl",
    "fox",   "frog",  "gnat",   "gnu",    "goat",   "goose",    "grouse", "grub",    "gull",   "hare",
    "hawk",  "hen",   "hog",    "horse",  "hound",  "jay",      "kit",    "kite",    "koi",    "lamb",
    "lark",  "loon",  "lynx",   "mare",   "midge",  "mink",     "mole",   "moose",   "moth",   "mouse",
    "mule",  "newt",  "owl",    "ox",     "panda",  "penguin",  "perch",  "pig",     "pug",    "quail",
    "ram",   "rat",   "ray",    "robin",  "roo",    "rook",     "seal",   "shad",    "shark",  "sheep",
    "shoat", "shrew", "shrike", "shrimp", "skink",  "skunk",    "sloth",  "slug",    "smelt",  "snail",
    "snake", "snipe", "sow",    "sponge", "squid",  "squirrel", "stag",   "steed",   "stoat",  "stork",
    "swan",  "tern",  "toad",   "trout",  "turtle", "vole",     "wasp",   "whale",   "wolf",   "worm",
    "wren",  "yak",   "zebra",
};
const char* const kPredicates[] = {
    "abundant",    "able",         "abrasive",   "adorable",    "adaptable",   "adventurous",
    "aged",        "agreeable",    "ambitious",  "amazing",     "amusing",     "angry",
    "auspicious",  "awesome",      "bald",       "beautiful",   "bemused",     "bedecked",
    "big",         "bittersweet",  "blushing",   "bold",        "bouncy",      "brawny",
    "bright",      "burly",        "bustling",   "calm",        "capable",     "carefree",
    "capricious",  "caring",       "casual",     "charming",    "chill",       "classy",
    "clean",       "clumsy",       "colorful",   "crawling",    "dapper",      "debonair",
    "dashing",     "defiant",      "delicate",   "delightful",  "dazzling",    "efficient",
    "enchanting",  "entertaining", "enthused",   "exultant",    "fearless",    "flawless",
    "fortunate",   "fun",          "funny",      "gaudy",       "gentle",      "gifted",
    "glamorous",   "grandiose",    "gregarious", "handsome",    "hilarious",   "honorable",
    "illustrious", "incongruous",  "indecisive", "industrious", "intelligent", "inquisitive",
    "intrigued",   "invincible",   "judicious",  "kindly",      "languid",     "learned",
    "legendary",   "likeable",     "loud",       "luminous",    "luxuriant",   "lyrical",
    "magnificent", "marvelous",    "masked",     "melodic",     "merciful",    "mercurial",
    "monumental",  "mysterious",   "nebulous",   "nervous",     "nimble",      "nosy",
    "omniscient",  "orderly",      "overjoyed",  "peaceful",    "painted",     "persistent",
    "placid",      "polite",       "popular",    "powerful",    "puzzled",     "rambunctious",
    "rare",        "rebellious",   "respected",  "resilient",   "righteous",   "receptive",
    "redolent",    "resilient",    "rogue",      "rumbling",    "salty",       "sassy",
    "secretive",   "selective",    "sedate",     "serious",     "shivering",   "skillful",
    "sincere",     "skittish",     "silent",     "smiling",     "sneaky",      "sophisticated",
    "spiffy",      "stately",      "suave",      "stylish",     "tasteful",    "thoughtful",
    "thundering",  "traveling",    "treasured",  "trusting",    "unequaled",   "upset",
    "unique",      "unleashed",    "useful",     "upbeat",      "unruly",      "valuable",
    "vaunted",     "victorious",   "welcoming",  "whimsical",   "wistful",     "wise",
    "worried",     "youthful",     "zealous",
};

}  // namespace

int64_t parse_experiment_id(const std::string& experiment_id) {
  // Python's int(): surrounding whitespace, an optional sign, decimal digits ('_' between them).
  std::size_t b = 0, e = experiment_id.size();
  while (b < e && std::isspace(static_cast<unsigned char>(experiment_id[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(experiment_id[e - 1]))) --e;
  bool neg = false;
  if (b < e && (experiment_id[b] == '+' || experiment_id[b] == '-')) neg = experiment_id[b++] == '-';
  int64_t v = 0;
  bool ok = b < e;
  bool prev_digit = false;
  for (std::size_t i = b; ok && i < e; ++i) {
    const char ch = experiment_id[i];
    if (ch == '_' && prev_digit && i + 1 < e) {
      prev_digit = false;
      continue;
    }
    if (!std::isdigit(static_cast<unsigned char>(ch)) || v > (INT64_MAX - 9) / 10) {
      ok = false;
      break;
    }
    v = v * 10 + (ch - '0');
    prev_digit = true;
  }
  if (!ok || !prev_digit)
    throw_invalid(
        fmt::format("Invalid experiment ID '{}'. Experiment ID must be a valid integer.", experiment_id));
  return neg ? -v : v;
}

std::string random_run_name() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string name;
  for (int i = 0; i < 10; ++i) {
    std::uniform_int_distribution<std::size_t> p(0, std::size(kPredicates) - 1), n(0, std::size(kNouns) - 1);
    std::uniform_int_distribution<int> num(0, 1000);
    name = fmt::format("{}-{}-{}", kPredicates[p(rng)], kNouns[n(rng)], num(rng));
    if (name.size() <= 20) return name;
  }
  return name.substr(0, 20);
}

[[noreturn]] void throw_run_not_found(const std::string& run_id) {
  throw_not_found(fmt::format("Run with id={} not found", run_id));
}

void check_run_stage_active(const std::string& run_id, const std::string& lifecycle_stage) {
  if (lifecycle_stage != "active")
    throw_invalid(fmt::format("The run {} must be in the 'active' state. Current state is {}.", run_id,
                              lifecycle_stage));
}

std::string run_lifecycle_stage(sql::Connection& c, const std::string& run_id) {
  auto& st = c.cached("SELECT lifecycle_stage FROM runs WHERE run_uuid = ?1");
  st.bind(1, run_id);
  if (!st.step()) {
    st.reset();
    throw_run_not_found(run_id);
  }
  std::string stage = st.text(0);
  st.reset();
  return stage;
}

void require_active_run(sql::Connection& c, const std::string& run_id) {
  check_run_stage_active(run_id, run_lifecycle_stage(c, run_id));
}

[[noreturn]] void throw_bad_request(const std::string& message) {
  throw ServerError(400, "BAD_REQUEST", message, "BAD_REQUEST: " + message);
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& ch : out) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& ch : out) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return out;
}

}  // namespace mlflowpp::detail::local

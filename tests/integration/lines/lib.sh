# sourced by functions.sh
greet() {
  printf 'hello %s\n' "$1"
}
echo "lib loaded"

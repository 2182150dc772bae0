#!/usr/bin/env bash
# Release mechanics (CONTRIBUTING.md, "Releasing"). One version, two spellings:
# the GitHub tag, the binary and the image say vX.Y.Z; the GitLab CI/CD Catalog
# wants plain semver, so the components of release vX.Y.Z are tag X.Y.Z of the
# catalog project.
#
#   scripts/release.sh commit X.Y.Z   (a maintainer, on an up-to-date main)
#       makes the release commit on top of HEAD without moving the branch:
#       .release-version = vX.Y.Z (what the GitHub Action reads to download this
#       release when it is pinned by this commit's SHA, by vX.Y.Z or by vX) and
#       the GitLab templates' default image = ghcr.io/astro-ci/astro-ci:vX.Y.Z;
#       tags it vX.Y.Z (annotated) and prints the push command. The commit is
#       never merged back: main carries no .release-version, so its commits
#       build from source.
#   scripts/release.sh check vX.Y.Z   (.github/workflows/release.yml, first)
#       refuses a tag whose commit is not such a release commit.
#   scripts/release.sh major-tag vX.Y.Z   (release workflow, after publishing)
#       moves vX to the release commit unless a newer vX.y.z exists or it is a
#       pre-release; pushes it to origin.
#   scripts/release.sh gitlab-sync vX.Y.Z   (release workflow, after publishing)
#       makes the default branch of the GitLab catalog project hold exactly
#       gitlab/ of the release commit, and tags it X.Y.Z; the tag pipeline there
#       publishes the version. GITLAB_CATALOG_URL (https://gitlab.com/astro-ci/astro-ci.git
#       by default; a path or file:// URL in tests) and GITLAB_CATALOG_TOKEN (a
#       project access token with write_repository; never in a URL or argv: git
#       asks for it through GIT_ASKPASS).
set -euo pipefail
cd "$(dirname "$0")/.."

die() {
	echo "release: $*" >&2
	exit 1
}
say() { echo "release: $*" >&2; }

semver_re='^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$'
image=ghcr.io/astro-ci/astro-ci

# version ARG: X.Y.Z from X.Y.Z or vX.Y.Z, or die.
version() {
	local v=${1#v}
	[[ $v =~ $semver_re ]] || die "\"$1\" is not a version (X.Y.Z or vX.Y.Z, e.g. 1.2.3 or 1.3.0-rc.1)"
	echo "$v"
}

template_images() { # DIR: every template's default image, one per line
	grep -hE "^      default: ${image//./\\.}:" "$1"/gitlab/templates/*.yml | sed 's/^ *default: //' | sort -u
}

cmd_commit() {
	local v tag head tmp
	v=$(version "${1:?usage: release.sh commit X.Y.Z}")
	tag=v$v
	[ -z "$(git status --porcelain --untracked-files=no)" ] || die "the work tree has uncommitted changes: commit or stash them first"
	if git rev-parse -q --verify "refs/tags/$tag" >/dev/null; then die "tag $tag exists already"; fi
	[ ! -e .release-version ] || die "HEAD already carries .release-version ($(cat .release-version)): make a release from main, not from a release commit"
	grep -qE "^## \[$v\]" CHANGELOG.md || die "CHANGELOG.md has no section \"## [$v]\": move the Unreleased entries there (Keep a Changelog) and commit that to main first"
	head=$(git rev-parse HEAD)
	tmp=$(mktemp -d)
	trap 'git worktree remove --force "'"$tmp"'" >/dev/null 2>&1 || rm -rf "'"$tmp"'"' RETURN
	git worktree add -q --detach "$tmp" "$head"
	echo "$tag" >"$tmp/.release-version"
	sed -i.bak -E "s#^(      default: )${image//./\\.}:[^[:space:]]+\$#\\1$image:$tag#" "$tmp"/gitlab/templates/*.yml
	rm -f "$tmp"/gitlab/templates/*.yml.bak
	[ "$(template_images "$tmp")" = "$image:$tag" ] || die "the GitLab templates do not all default to $image:$tag after the edit"
	git -C "$tmp" add .release-version gitlab/templates
	git -C "$tmp" -c commit.gpgsign=false commit -q -m "Release $tag" -m "The release commit of $tag (scripts/release.sh commit): .release-version, and the GitLab components default to $image:$tag. Not merged back to main."
	git tag -a -m "astro-ci $tag" "$tag" "$(git -C "$tmp" rev-parse HEAD)"
	say "made release commit $(git rev-parse "$tag^{commit}") (parent $head) and tag $tag; $(git symbolic-ref -q --short HEAD || echo HEAD) is unchanged"
	say "publish it: git push origin refs/tags/$tag"
}

cmd_check() {
	local v tag file images
	v=$(version "${1:?usage: release.sh check vX.Y.Z}")
	tag=v$v
	[ "$1" = "$tag" ] || die "release tags are vX.Y.Z: $1 should be $tag"
	[ -f .release-version ] || die "$tag is not a release commit: no .release-version (make releases with scripts/release.sh commit $v)"
	file=$(head -n 1 .release-version | tr -d ' \r\n')
	[ "$file" = "$tag" ] || die ".release-version says $file, the tag is $tag"
	images=$(template_images .)
	[ "$images" = "$image:$tag" ] || die "the GitLab templates must all default to $image:$tag, they say: $(echo "$images" | tr '\n' ' ')"
	grep -qE "^## \[$v\]" CHANGELOG.md || die "CHANGELOG.md has no section \"## [$v]\""
	say "ok: $tag is a release commit (.release-version, GitLab templates' image, CHANGELOG)"
}

cmd_major_tag() {
	local v tag major newest
	v=$(version "${1:?usage: release.sh major-tag vX.Y.Z}")
	tag=v$v
	major=v${v%%.*}
	if [[ $v == *-* ]]; then
		say "$tag is a pre-release: $major stays where it is"
		return
	fi
	git fetch -q --tags --force origin 2>/dev/null || true
	newest=$(git tag -l "$major.*" | grep -E "^$major\.[0-9]+\.[0-9]+$" | sort -V | tail -n 1)
	if [ "$newest" != "$tag" ]; then
		say "$newest is newer than $tag: $major stays at $(git rev-parse -q --verify "refs/tags/$major^{commit}" || echo '(none)')"
		return
	fi
	git tag -f -a -m "astro-ci $tag (the latest $major release)" "$major" "$tag^{commit}" >/dev/null
	git push -q --force origin "refs/tags/$major"
	say "$major -> $tag ($(git rev-parse "$major^{commit}"))"
}

cmd_gitlab_sync() {
	local v tag url tmp askpass sha
	v=$(version "${1:?usage: release.sh gitlab-sync vX.Y.Z}")
	tag=v$v
	[[ $v != *-* ]] || {
		say "$tag is a pre-release: the catalog gets final versions only"
		return
	}
	cmd_check "$tag" >/dev/null
	url=${GITLAB_CATALOG_URL:-https://gitlab.com/astro-ci/astro-ci.git}
	tmp=$(mktemp -d)
	trap 'rm -rf "'"$tmp"'"' RETURN
	export GIT_TERMINAL_PROMPT=0
	case "$url" in
	https://*)
		[ -n "${GITLAB_CATALOG_TOKEN:-}" ] || die "GITLAB_CATALOG_TOKEN is not set: a project access token of the catalog project (role Maintainer, scope write_repository)"
		url=https://oauth2@${url#https://}
		askpass=$tmp/askpass
		printf '#!/bin/sh\nprintf "%%s\\n" "$GITLAB_CATALOG_TOKEN"\n' >"$askpass"
		chmod 700 "$askpass"
		export GIT_ASKPASS=$askpass
		;;
	/* | file://*) ;;
	*) die "GITLAB_CATALOG_URL must be an https:// URL (or a local path in tests)" ;;
	esac
	sha=$(git rev-parse HEAD)
	git clone -q --depth 1 "$url" "$tmp/catalog" 2>"$tmp/err" || {
		sed 's/oauth2:[^@]*@/oauth2:***@/g' "$tmp/err" >&2
		die "could not clone the catalog project"
	}
	if git -C "$tmp/catalog" ls-remote -q --exit-code --tags origin "refs/tags/$v" >/dev/null 2>&1; then
		die "the catalog project has tag $v already"
	fi
	# Exactly gitlab/ of the release commit, nothing else.
	find "$tmp/catalog" -mindepth 1 -maxdepth 1 ! -name .git -exec rm -rf {} +
	git archive "$sha" gitlab | tar -x -C "$tmp" && cp -R "$tmp/gitlab/." "$tmp/catalog/"
	git -C "$tmp/catalog" add -A
	if git -C "$tmp/catalog" diff --cached --quiet; then
		say "the catalog project's default branch holds these components already"
	else
		git -C "$tmp/catalog" -c user.name="astro-ci release" -c user.email="release@astro-ci.invalid" -c commit.gpgsign=false \
			commit -q -m "astro-ci components $v" -m "gitlab/ of astro-ci $tag ($sha)."
	fi
	git -C "$tmp/catalog" -c user.name="astro-ci release" -c user.email="release@astro-ci.invalid" \
		tag -a -m "astro-ci components $v (astro-ci $tag, $sha)" "$v"
	git -C "$tmp/catalog" push -q origin "HEAD:refs/heads/$(git -C "$tmp/catalog" symbolic-ref -q --short HEAD || echo main)" "refs/tags/$v"
	say "catalog project: default branch = gitlab/ of $tag, tag $v pushed (its pipeline publishes the release)"
}

case "${1:-}" in
commit) cmd_commit "${2:-}" ;;
check) cmd_check "${2:-}" ;;
major-tag) cmd_major_tag "${2:-}" ;;
gitlab-sync) cmd_gitlab_sync "${2:-}" ;;
*)
	echo "usage: scripts/release.sh commit X.Y.Z | check vX.Y.Z | major-tag vX.Y.Z | gitlab-sync vX.Y.Z" >&2
	exit 2
	;;
esac

import type { EmotionCache } from '@emotion/cache'
import {
  EuiBadge,
  EuiButtonEmpty,
  EuiButtonIcon,
  EuiHeader,
  EuiHeaderSection,
  EuiHeaderSectionItem,
  EuiLoadingSpinner,
  EuiPageTemplate,
  EuiProvider,
  EuiSideNav,
  EuiSkipLink,
  EuiText,
  EuiToolTip,
  useEuiTheme,
} from '@elastic/eui'
import { QueryClient, QueryClientProvider } from '@tanstack/react-query'
import { Suspense, useState } from 'react'
import { BrowserRouter, Navigate, Route, Routes, useLocation, useNavigate } from 'react-router-dom'
import { ApiError } from './api/client.js'
import { AuthProvider, useAuth } from './auth/AuthContext.js'
import { SignIn } from './auth/SignIn.js'
import { PageErrorBoundary } from './components/PageErrorBoundary.js'
import { PAGES } from './routes.js'

type ColorMode = 'dark' | 'light'
const THEME_KEY = 'vigil.theme'

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      // Permission and not-found answers do not get better by asking again.
      retry: (count, err) => count < 2 && !(err instanceof ApiError && err.status >= 400 && err.status < 500),
      refetchOnWindowFocus: false,
    },
  },
})

function Shell({ colorMode, toggleTheme }: { colorMode: ColorMode; toggleTheme: () => void }) {
  const auth = useAuth()
  const location = useLocation()
  const navigate = useNavigate()
  const { euiTheme } = useEuiTheme()
  if (auth.state.status !== 'signed-in') return <SignIn />
  const me = auth.state.me
  const pages = PAGES.filter((p) => auth.can(p.permission))
  const home = pages[0]?.path ?? '/reports'

  return (
    <>
      <EuiSkipLink destinationId="vigil-main" position="fixed">
        Skip to content
      </EuiSkipLink>
      <EuiHeader position="fixed">
        <EuiHeaderSection>
          <EuiHeaderSectionItem>
            <EuiButtonEmpty iconType="securityApp" href="/" color="text" onClick={(e: React.MouseEvent) => (e.preventDefault(), navigate(home))}>
              <strong>Vigil</strong>
            </EuiButtonEmpty>
          </EuiHeaderSectionItem>
        </EuiHeaderSection>
        <EuiHeaderSection side="right">
          <EuiHeaderSectionItem>
            <EuiText size="s" data-test-subj="whoami">
              {me.email ?? me.role} <EuiBadge>{me.role}</EuiBadge>
            </EuiText>
          </EuiHeaderSectionItem>
          <EuiHeaderSectionItem>
            <EuiToolTip content={colorMode === 'dark' ? 'Light theme' : 'Dark theme'}>
              <EuiButtonIcon data-test-subj="themeToggle" iconType={colorMode === 'dark' ? 'sun' : 'moon'} aria-label="Switch theme" onClick={toggleTheme} />
            </EuiToolTip>
          </EuiHeaderSectionItem>
          <EuiHeaderSectionItem>
            <EuiToolTip content="Sign out">
              <EuiButtonIcon data-test-subj="signOut" iconType="logOut" aria-label="Sign out" onClick={() => void auth.logout()} />
            </EuiToolTip>
          </EuiHeaderSectionItem>
        </EuiHeaderSection>
      </EuiHeader>
      <EuiPageTemplate panelled restrictWidth={false} offset={48}>
        <EuiPageTemplate.Sidebar sticky minWidth={200}>
          <EuiSideNav
            aria-label="Dashboard pages"
            items={[
              {
                id: 'pages',
                name: 'Security',
                items: pages.map((p) => ({
                  id: p.path,
                  name: p.title,
                  icon: undefined,
                  isSelected: location.pathname === p.path || location.pathname.startsWith(`${p.path}/`),
                  href: p.path,
                  'data-test-subj': `nav-${p.path.slice(1)}`,
                  onClick: (e: React.MouseEvent) => {
                    e.preventDefault()
                    navigate(p.path)
                  },
                })),
              },
            ]}
          />
        </EuiPageTemplate.Sidebar>
        <main id="vigil-main" tabIndex={-1} style={{ width: '100%', minWidth: 0, padding: euiTheme.size.l }}>
          <PageErrorBoundary resetKey={location.pathname}>
            <Suspense fallback={<EuiLoadingSpinner size="xl" />}>
              <Routes>
                {pages.map((p) => {
                  const Page = p.component
                  return <Route key={p.path} path={p.pattern} element={<Page />} />
                })}
                <Route path="*" element={<Navigate to={home} replace />} />
              </Routes>
            </Suspense>
          </PageErrorBoundary>
        </main>
      </EuiPageTemplate>
    </>
  )
}

export function App({ emotionCache }: { emotionCache: { default: EmotionCache; global: EmotionCache; utility: EmotionCache } }) {
  const [colorMode, setColorMode] = useState<ColorMode>(() => (localStorage.getItem(THEME_KEY) === 'light' ? 'light' : 'dark'))
  const toggleTheme = () =>
    setColorMode((m) => {
      const next = m === 'dark' ? 'light' : 'dark'
      localStorage.setItem(THEME_KEY, next)
      return next
    })
  return (
    <EuiProvider colorMode={colorMode} cache={emotionCache}>
      <QueryClientProvider client={queryClient}>
        <AuthProvider>
          <BrowserRouter>
            <Shell colorMode={colorMode} toggleTheme={toggleTheme} />
          </BrowserRouter>
        </AuthProvider>
      </QueryClientProvider>
    </EuiProvider>
  )
}
